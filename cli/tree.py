"""`congress import-tree FILE`: load or update the committee tree from CSV or JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cli.runtime import pass_settings, run_with_engine
from config import Settings
from models.tree_file import TreeImportError, read_tree_file
from models.tree_import import ImportReport
from models.tree_import import import_tree as import_rows


@click.command("import-tree")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_settings
def import_tree(settings: Settings, file: Path) -> None:
    """Create or update committees from FILE (.csv or .json rows: code, parent_code, name, kind).

    Rows are matched by code, so running it again updates instead of duplicating. Any bad
    row stops the import and nothing is changed.
    """
    try:
        rows = read_tree_file(file)
    except TreeImportError as error:
        raise click.ClickException(str(error)) from error

    async def run(engine: AsyncEngine) -> ImportReport:
        with click.progressbar(
            length=len(rows), label=f"Importing {len(rows):,} rows", file=sys.stderr
        ) as bar:
            async with AsyncSession(engine) as session, session.begin():
                return await import_rows(session, rows, progress=bar.update)

    try:
        report = run_with_engine(settings, run)
    except TreeImportError as error:
        raise click.ClickException(f"{error}. Nothing was changed.") from error
    click.echo(
        f"Imported {file}: {report.created} created, {report.updated} updated, "
        f"{report.moved} moved, {report.unchanged} unchanged."
    )
