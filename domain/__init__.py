"""Operations that are neither tables nor HTTP: the unit of work every write goes through."""
