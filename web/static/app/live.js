// Live streams: a subscription kept open over SSE, reconnected with backoff when it drops,
// resumed after its last cursor. At most MAX_STREAMS are open on the page at once.

import { ApiError, openStream, signInUrl } from './api.js';

const MAX_STREAMS = 2;
const MAX_BACKOFF_MS = 30000;
const STABLE_AFTER_MS = 10000;
const open = new Set();

/** Every stream's state, for the connection indicator: 'connecting' | 'live' | 'retrying'. */
export const liveState = new EventTarget();
function announce() {
  liveState.dispatchEvent(new CustomEvent('change', { detail: [...open].map((stream) => stream.state) }));
}

export function streamStates() {
  return [...open].map((stream) => stream.state);
}

const wait = (ms, signal) =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    // Back online: try at once rather than at the end of the backoff.
    window.addEventListener('online', done);
    signal.addEventListener('abort', done);
  });

export class LiveStream {
  /**
   * query, variables: the subscription. resumable: resend `after` = the last cursor.
   * onData(data): each message. onResync(): the server cannot resume (reload, then live again).
   * onEnd(code): it cannot go on (NOT_FOUND: the committee left the viewer's scope).
   * cursorOf(data): the cursor of a message, when resumable.
   */
  constructor({ query, variables, resumable = false, cursorOf, onData, onResync, onEnd }) {
    this.query = query;
    this.variables = variables;
    this.resumable = resumable;
    this.cursorOf = cursorOf;
    this.onData = onData;
    this.onResync = onResync || (() => {});
    this.onEnd = onEnd || (() => {});
    this.cursor = null;
    this.state = 'connecting';
    this.controller = new AbortController();
  }

  start() {
    if (open.size >= MAX_STREAMS) throw new Error(`at most ${MAX_STREAMS} live streams per page`);
    open.add(this);
    announce();
    this.run().finally(() => {
      open.delete(this);
      announce();
    });
    return this;
  }

  stop() {
    this.controller.abort();
    // Its place is free at once: the next view's streams may start before this one has wound down.
    open.delete(this);
    announce();
  }

  setState(state) {
    if (this.state !== state) {
      this.state = state;
      announce();
    }
  }

  async run() {
    const signal = this.controller.signal;
    let failures = 0;
    while (!signal.aborted) {
      const variables = { ...this.variables };
      if (this.resumable && this.cursor) variables.after = this.cursor;
      const openedAt = Date.now();
      let delayFloor = 0;
      let ended = null;
      try {
        await openStream(this.query, variables, {
          signal,
          onOpen: () => this.setState('live'),
          onPayload: (payload) => {
            const error = payload.errors?.[0];
            if (error) {
              const code = error.extensions?.code;
              if (code === 'RESYNC_REQUIRED' || (code === 'BAD_USER_INPUT' && error.extensions?.argument === 'after')) {
                // Too far behind (or a cursor this server cannot read): start afresh.
                this.cursor = null;
                failures = 0;
                this.onResync();
              } else if (code === 'NOT_FOUND' || code === 'UNAUTHENTICATED' || code === 'BAD_USER_INPUT') {
                ended = code;
              } else if (code === 'COST_LIMIT' || code === 'RATE_LIMITED') {
                delayFloor = Math.max(delayFloor, (error.extensions?.retryAfterSeconds || 15) * 1000);
              }
              return;
            }
            if (!payload.data) return;
            if (this.resumable) this.cursor = this.cursorOf(payload.data) || this.cursor;
            this.setState('live');
            this.onData(payload.data);
          },
        });
      } catch (error) {
        if (signal.aborted || error.name === 'AbortError') return;
        if (error instanceof ApiError) {
          if (error.code === 'UNAUTHENTICATED') return;
          if (error.code === 'NOT_FOUND') ended = 'NOT_FOUND';
          delayFloor = Math.max(delayFloor, error.retryAfter * 1000);
        }
      }
      if (signal.aborted) return;
      if (ended === 'UNAUTHENTICATED') {
        location.assign(signInUrl()); // the session ended while the stream was open
        return;
      }
      if (ended) {
        this.onEnd(ended);
        return;
      }
      if (Date.now() - openedAt > STABLE_AFTER_MS) failures = 0;
      this.setState('retrying');
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failures) * (0.5 + Math.random() / 2);
      failures += 1;
      await wait(Math.max(backoff, delayFloor), signal);
    }
  }
}
