// Runs graphql-http's GraphQL-over-HTTP server audit against URL (argv[2]) with the bearer
// token in the AUDIT_TOKEN environment variable; prints one JSON array of
// {id, name, status, reason} on stdout. tests/test_graphql_over_http.py judges it.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const token = process.env.AUDIT_TOKEN;

// Every audit request carries the token; the audit itself only sets the GraphQL headers.
const fetchWithToken = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = [];
for (const audit of serverAudits({ url, fetchFn: fetchWithToken })) {
  const result = await audit.fn();
  results.push({
    id: audit.id,
    name: audit.name,
    status: result.status,
    reason: result.status === 'ok' ? null : String(result.reason),
  });
  if ('response' in result && result.response?.body) {
    await result.response.body.cancel().catch(() => {});
  }
}
process.stdout.write(JSON.stringify(results));
