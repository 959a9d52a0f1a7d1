// The one way this page talks to the server: POST /graphql on its own origin, with the
// session cookie and the CSRF header, as a request (gql) or as an event stream (openStream).

const ENDPOINT = '/graphql';
const CSRF_COOKIE = 'congress_csrf';
const QUERY_ATTEMPTS = 4;

export class ApiError extends Error {
  /** code: an extensions.code of the API, or NETWORK / BAD_RESPONSE for what never reached it. */
  constructor(code, message, { status = 0, retryAfter = 0, requestId = '', argument = '' } = {}) {
    super(message || code);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
    this.argument = argument;
  }
}

/** Someone watching requests that wait to be retried (the page's connection indicator). */
export const requests = new EventTarget();
let retrying = 0;
function setRetrying(delta) {
  retrying += delta;
  requests.dispatchEvent(new CustomEvent('retrying', { detail: retrying }));
}

/** The session's CSRF token, as the server set it in a cookie the page may read (one per session). */
export function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return '';
}

function headers(accept) {
  return { 'Content-Type': 'application/json', Accept: accept, 'X-CSRF-Token': csrfToken() };
}

export function signInUrl() {
  return '/sign-in?next=' + encodeURIComponent(location.pathname + location.hash);
}

let leaving = false;
function sessionOver() {
  if (!leaving) {
    leaving = true;
    location.assign(signInUrl());
  }
  return new ApiError('UNAUTHENTICATED');
}

function retryAfterOf(response, error) {
  const header = Number(response?.headers.get('Retry-After'));
  const extension = Number(error?.extensions?.retryAfterSeconds);
  return Math.max(Number.isFinite(header) ? header : 0, Number.isFinite(extension) ? extension : 0);
}

const HTTP_CODES = { 400: 'BAD_USER_INPUT', 401: 'UNAUTHENTICATED', 413: 'COST_LIMIT', 429: 'RATE_LIMITED', 503: 'UNAVAILABLE' };

/** The error a refused request stands for (whole-request failures: 4xx/5xx). */
async function refusal(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON: a proxy's page */
  }
  const first = body?.errors?.[0];
  const code = first?.extensions?.code || HTTP_CODES[response.status] || (response.status >= 500 ? 'UNAVAILABLE' : 'BAD_RESPONSE');
  return new ApiError(code, first?.message, {
    status: response.status,
    retryAfter: retryAfterOf(response, first),
    requestId: first?.extensions?.requestId || response.headers.get('X-Request-ID') || '',
    argument: first?.extensions?.argument || '',
  });
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('Aborted', 'AbortError'));
    });
  });

/** POST a document to the API as `accept`; the response, once it is known to be a 2xx. */
async function send(query, variables, accept, signal) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: headers(accept),
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('NETWORK');
  }
  if (response.status === 401) throw sessionOver();
  if (!response.ok) throw await refusal(response);
  return response;
}

async function post(query, variables, signal) {
  const response = await send(query, variables, 'application/json', signal);
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError('BAD_RESPONSE', '', { status: response.status });
  }
  const whole = body.data == null ? body.errors?.[0] : null;
  const code = whole?.extensions?.code;
  if (code === 'UNAUTHENTICATED') throw sessionOver();
  if (whole && !whole.path) {
    // The request as a whole was refused (a COST_LIMIT with status 200, for instance).
    throw new ApiError(code || 'BAD_RESPONSE', whole.message, {
      requestId: whole.extensions?.requestId || response.headers.get('X-Request-ID') || '',
      retryAfter: retryAfterOf(response, whole),
    });
  }
  return { data: body.data ?? null, errors: body.errors ?? [], requestId: response.headers.get('X-Request-ID') || '' };
}

const TRANSIENT = new Set(['NETWORK', 'UNAVAILABLE', 'RATE_LIMITED']);

/**
 * A query: { data, errors } (field errors stay in errors, each with extensions.code).
 * Refused or unreachable (network, 503, 429) it is tried again a few times with backoff,
 * then an ApiError is thrown. Mutations go through mutate(), which never repeats by itself.
 * With no connection at all (navigator.onLine false) it fails at once with NETWORK: the
 * screen shows what the phone kept (offline.js) rather than waiting for the retries.
 */
export async function gql(query, variables = {}, { signal } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (!navigator.onLine) throw new ApiError('NETWORK');
      const result = await post(query, variables, signal);
      if (attempt > 1) setRetrying(-1);
      return result;
    } catch (error) {
      const transient = error instanceof ApiError && TRANSIENT.has(error.code) && navigator.onLine;
      if (!transient || attempt >= QUERY_ATTEMPTS) {
        if (attempt > 1) setRetrying(-1);
        throw error;
      }
      if (attempt === 1) setRetrying(+1);
      const backoff = 1000 * 2 ** (attempt - 1) * (0.75 + Math.random() / 2);
      try {
        await sleep(Math.max(backoff, error.retryAfter * 1000), signal);
      } catch (aborted) {
        setRetrying(-1);
        throw aborted;
      }
    }
  }
}

/** A mutation, sent once: the caller repeats it, with the same idempotencyKey, when the user asks. */
export function mutate(query, variables = {}) {
  return post(query, variables);
}

/**
 * A subscription over Server-Sent Events (graphql-sse, distinct connections mode).
 * Calls onOpen() once the server accepted it, onPayload({data, errors}) per `next`, and
 * resolves with 'complete' (the server ended it) or 'closed' (the connection ended).
 * Throws ApiError when refused, AbortError when `signal` aborts it.
 */
export async function openStream(query, variables, { signal, onOpen, onPayload }) {
  const response = await send(query, variables, 'text/event-stream', signal);
  if (!(response.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    throw new ApiError('BAD_RESPONSE', '', { status: response.status });
  }
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (error.name === 'AbortError') throw error;
        return 'closed';
      }
      if (chunk.done) return 'closed';
      buffer += chunk.value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (event === 'complete') return 'complete';
        if (event === 'next' && data.length) {
          let payload;
          try {
            payload = JSON.parse(data.join('\n'));
          } catch {
            continue;
          }
          onPayload(payload);
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Sign out: the server ends the session; then the sign-in page. */
export async function signOut() {
  try {
    await fetch('/sign-out', { method: 'POST', credentials: 'same-origin', headers: headers('application/json') });
  } finally {
    location.assign('/sign-in');
  }
}

/** The first error code among field errors, for a path starting with `root` (or any). */
export function errorCode(errors, root) {
  const found = errors.find((error) => !root || error.path?.[0] === root);
  return found?.extensions?.code || null;
}
