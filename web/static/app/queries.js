// The GraphQL documents the app sends. Lists ask for `first: 20`; the dashboard's document
// stays far below the API's cost limit (README, "Limits").

const SUMMARY = `fragment Summary on SubtreeProgressFigures {
  term total congressesHeld congressesCompleted completionRate overdue dueSoon
  byMilestone { milestone name done inProgress notStarted }
  reports { draft submitted approved returned reopened overdue }
}`;

const CHILD = `fragment Child on Committee {
  id code name kind progress { total congressesHeld completionRate overdue }
}`;

const DIFFICULTY = `fragment Difficulty on Difficulty {
  id title description category status version raisedAt raisedBy lastActivityAt
  committee { id code name } handlingCommittee { id code }
}`;

const REPORT = `fragment Report on CongressReport {
  state version submittedAt submittedBy { name } decidedAt decidedBy { name } reason
}`;

const CONGRESS = `fragment Congress on Congress {
  id version status deadline heldOn overdue daysLate term { code name }
  report { ...Report }
}
${REPORT}`;

/** What one congress's report still lacks: one read per report, so asked of one congress only. */
const OWN_CONGRESS = `congress { ...Congress report { missing { kind code label count } } }`;

/** The approver's inbox: reports submitted below the committee, the longest waiting first. */
const APPROVALS = `approvals: pendingApprovals(first: 20) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { id version term { code } committee { id code name } report { ...Report } }
    }`;

const CONGRESS_FULL = `fragment CongressFull on Congress {
  ...Congress
  milestones { milestone name position prerequisite status occurredOn note version }
  results { delegatesExpected delegatesPresent membersElected women under40 ethnicMinority
            secretaryDirectlyElected delegatesToHigherCongress }
}`;

const VIEWER = `viewer { subject name assignments { role committee { id code name depth } } }`;

const COMMITTEE = `committee(code: $code) {
    id code name kind depth
    ancestors { id code name }
    progress { ...Summary }
    ${OWN_CONGRESS}
    ${APPROVALS}
    children(first: 20) { totalCount nodes { ...Child } pageInfo { hasNextPage endCursor } }
  }`;

const LISTS = `overdue: overdueCongresses(under: $id, first: 20) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id deadline daysLate status committee { id code name } }
  }
  recent: recentProgress(under: $id, first: 20) {
    nodes { kind version recordedAt recordedBy change congress { id committee { id code name } } }
  }
  inbox: difficulties(handledAt: $id, status: OPEN, first: 20) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ...Difficulty }
  }`;

export const VIEWER_ONLY = `query Viewer { ${VIEWER} }`;

/** The whole first screen in one request, when the committee's id is known. */
export const DASHBOARD = `query Dashboard($code: String!, $id: ID!) {
  ${VIEWER}
  ${COMMITTEE}
  ${LISTS}
}
${SUMMARY} ${CHILD} ${DIFFICULTY} ${CONGRESS}`;

/** The same in two steps, when only the code is known (a link opened cold). */
export const DASHBOARD_BY_CODE = `query DashboardByCode($code: String!) {
  ${VIEWER}
  ${COMMITTEE}
}
${SUMMARY} ${CHILD} ${CONGRESS}`;

export const LISTS_ONLY = `query Lists($id: ID!) {
  ${LISTS}
}
${DIFFICULTY}`;

export const INBOX = `query Inbox($id: ID!, $after: String) {
  inbox: difficulties(handledAt: $id, status: OPEN, first: 20, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ...Difficulty }
  }
}
${DIFFICULTY}`;

export const OVERDUE_PAGE = `query Overdue($id: ID!, $after: String) {
  overdue: overdueCongresses(under: $id, first: 20, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id deadline daysLate status committee { id code name } }
  }
}`;

/** What live events make stale and the streams do not carry: the children's figures, the overdue list. */
export const REFRESH = `query Refresh($id: ID!, $first: Int!) {
  committee(id: $id) {
    ${OWN_CONGRESS}
    ${APPROVALS}
    children(first: $first) { totalCount nodes { ...Child } pageInfo { hasNextPage endCursor } }
  }
  overdue: overdueCongresses(under: $id, first: 20) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id deadline daysLate status committee { id code name } }
  }
}
${CHILD} ${CONGRESS}`;

export const CHILDREN_PAGE = `query Children($id: ID!, $after: String) {
  committee(id: $id) {
    children(first: 20, after: $after) { totalCount nodes { ...Child } pageInfo { hasNextPage endCursor } }
  }
}
${CHILD}`;

export const DIFFICULTY_EVENTS = `query DifficultyEvents($id: ID!) {
  difficulty(id: $id) {
    id events(first: 50) { nodes { kind body actorSubject at fromCommittee { name } toCommittee { name } } }
  }
}`;

/** A timeline costs as its longest (2,000 points): asked for apart, once per committee. */
export const TIMELINE = `query Timeline($id: ID!) {
  committee(id: $id) { id progress { total timeline(interval: WEEK) { date congressesHeld } } }
}`;

export const SEARCH = `query Search($q: String!) {
  committees(search: $q, first: 20) { totalCount nodes { id code name kind depth } pageInfo { hasNextPage } }
}`;

export const CONGRESS_FOR_FORMS = `query CongressForForms($code: String!) {
  ${VIEWER}
  committee(code: $code) {
    id code name kind depth
    ancestors { id code name }
    congress { ...CongressFull report { missing { kind code label count } } }
  }
}
${CONGRESS} ${CONGRESS_FULL}`;

export const LIVE_SUMMARY = `subscription LiveSummary($id: ID!) {
  progress(committeeId: $id) { ...Summary }
}
${SUMMARY}`;

export const LIVE_EVENTS = `subscription LiveEvents($id: ID, $after: String) {
  progressEvents(under: $id, after: $after) {
    cursor kind recordedAt
    committee { id code name }
    congress { id status version milestone deadline reportState reportVersion }
    difficulty { id status version handledAt { id code } }
  }
}`;

const TYPED_ERRORS = `... on MutationError { message }
    ... on ValidationError { field }
    ... on NotFound { field }
    ... on Conflict { field }`;

const CONGRESS_RESULT = `__typename
    ... on CongressPayload { recordedVersion replayed congress { ...CongressFull report { missing { kind code label count } } } }
    ... on CongressVersionConflict { message currentVersion congress { ...CongressFull } }
    ... on ReportLocked { state }
    ${TYPED_ERRORS}`;

export const RECORD_MILESTONE = `mutation RecordMilestone($input: RecordMilestoneInput!) {
  recordMilestone(input: $input) { ${CONGRESS_RESULT} }
}
${CONGRESS} ${CONGRESS_FULL}`;

export const RECORD_RESULTS = `mutation RecordResults($input: RecordResultsInput!) {
  recordResults(input: $input) { ${CONGRESS_RESULT} }
}
${CONGRESS} ${CONGRESS_FULL}`;

const DIFFICULTY_RESULT = `__typename
    ... on DifficultyPayload { recordedVersion replayed difficulty { ...Difficulty } }
    ... on VersionConflict { currentVersion }
    ${TYPED_ERRORS}`;

const difficultyMutation = (name, input) => `mutation ${name[0].toUpperCase()}${name.slice(1)}($input: ${input}!) {
  ${name}(input: $input) { ${DIFFICULTY_RESULT} }
}
${DIFFICULTY}`;

export const RAISE_DIFFICULTY = difficultyMutation('raiseDifficulty', 'RaiseDifficultyInput');
export const ESCALATE_DIFFICULTY = difficultyMutation('escalateDifficulty', 'EscalateDifficultyInput');
export const COMMENT_DIFFICULTY = difficultyMutation('commentDifficulty', 'CommentDifficultyInput');
export const RESOLVE_DIFFICULTY = difficultyMutation('resolveDifficulty', 'ResolveDifficultyInput');

const REPORT_RESULT = `__typename
    ... on ReportPayload { recordedVersion replayed congress { ...Congress report { missing { kind code label count } } } }
    ... on ReportIncomplete { missing { kind code label count } }
    ... on VersionConflict { currentVersion }
    ... on MutationError { message }
    ... on ValidationError { field }`;

const reportMutation = (name, input) => `mutation ${name[0].toUpperCase()}${name.slice(1)}($input: ${input}!) {
  ${name}(input: $input) { ${REPORT_RESULT} }
}
${CONGRESS}`;

export const SUBMIT_REPORT = reportMutation('submitReport', 'ReportInput');
export const APPROVE_REPORT = reportMutation('approveReport', 'ReportInput');
export const RETURN_REPORT = reportMutation('returnReport', 'ReportDecisionInput');
export const REOPEN_REPORT = reportMutation('reopenReport', 'ReportDecisionInput');

export const APPROVALS_PAGE = `query Approvals($id: ID!, $after: String) {
  committee(id: $id) {
    approvals: pendingApprovals(first: 20, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { id version term { code } committee { id code name } report { ...Report } }
    }
  }
}
${REPORT}`;
