// Sending a write exactly once: one idempotency key per submission, kept and sent again
// when the user retries after a network failure, OUTCOME_UNKNOWN or UNAVAILABLE.

import { ApiError, errorCode, mutate } from './api.js';
import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { errorMessage } from './views/common.js';

const KEEP_KEY = new Set(['NETWORK', 'OUTCOME_UNKNOWN', 'UNAVAILABLE', 'RATE_LIMITED', 'BAD_RESPONSE']);

/** A fresh idempotency key (a UUID v4), made on this device. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Outside a secure context (plain http on a LAN): the same 122 random bits, by hand.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class Submission {
  constructor(document, field) {
    this.document = document;
    this.field = field;
    this.key = null;
    this.signature = null;
  }

  /** The same input again after an unknown outcome reuses the key; anything else gets a new one. */
  keyFor(input) {
    const signature = JSON.stringify(input);
    if (!this.key || signature !== this.signature) {
      this.key = newKey();
      this.signature = signature;
    }
    return this.key;
  }

  /**
   * { ok: result } for an answer (a payload or a typed error of the result union),
   * { retry: ApiError } when the outcome is unknown (the key is kept for the retry),
   * { fail: ApiError } otherwise.
   */
  async send(input) {
    const idempotencyKey = this.keyFor(input);
    try {
      const { data, errors } = await mutate(this.document, { input: { ...input, idempotencyKey } });
      const result = data?.[this.field];
      if (result) {
        this.key = null;
        return { ok: result };
      }
      const code = errorCode(errors) || 'BAD_RESPONSE';
      const error = new ApiError(code, errors[0]?.message, { requestId: errors[0]?.extensions?.requestId });
      if (KEEP_KEY.has(code)) return { retry: error };
      this.key = null;
      return { fail: error };
    } catch (error) {
      if (error instanceof ApiError && KEEP_KEY.has(error.code)) return { retry: error };
      this.key = null;
      return { fail: error };
    }
  }
}

/** Clears the field errors a form shows. */
export function clearFieldErrors(form) {
  for (const slot of form.querySelectorAll('.field-error')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/**
 * Shows a typed error of a result union. A ValidationError (or NotFound / Conflict) that
 * names a field of the form shows its message next to that field; anything else in `status`.
 */
export function showTypedError(form, status, result) {
  const type = result.__typename;
  const control = result.field ? form.querySelector(`[name="${CSS.escape(result.field)}"]`) : null;
  if (control) {
    const slot = form.querySelector(`#${CSS.escape(control.getAttribute('aria-describedby')?.split(' ')[0] || '')}`);
    control.setAttribute('aria-invalid', 'true');
    if (slot) {
      slot.textContent = result.message;
      slot.hidden = false;
    }
    replace(status, h('p', { class: 'msg msg-error', role: 'alert' }, t(`typed.${type}`) || t('err.generic')));
    control.focus();
    return;
  }
  replace(
    status,
    h(
      'div',
      { class: 'msg msg-error', role: 'alert' },
      h('p', null, t(`typed.${type}`)),
      result.message ? h('p', { class: 'detail' }, t('typed.detail', { msg: result.message })) : null,
    ),
  );
}

/** The message for a failed or unknown outcome, with a retry button when it may be repeated. */
export function showFailure(status, outcome, retry) {
  const error = outcome.retry || outcome.fail;
  replace(
    status,
    h(
      'div',
      { class: 'msg msg-error', role: 'alert' },
      h('p', null, errorMessage(error)),
      outcome.retry ? h('button', { type: 'button', class: 'button', onclick: retry }, t('err.retry')) : null,
    ),
  );
}

/** A labelled control with its error slot: label, control (aria-describedby the slot), error. */
export function field(label, control, hint) {
  const id = control.id || (control.id = `f-${control.name}-${Math.random().toString(36).slice(2, 8)}`);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute('aria-describedby', [errorId, hintId].filter(Boolean).join(' '));
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    control,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
  );
}
