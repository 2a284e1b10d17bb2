package dev.idempotency;

import java.util.Locale;

/** What the filter did with one request: the {@code outcome} label of SPEC §10. */
public enum Outcome {
  /** Ran the handler under a lock. */
  EXECUTED,
  /** Answered from a stored response. */
  REPLAYED,
  /** Answered 409: the same key is still running. */
  CONFLICT,
  /** Answered 422: the key was used for another request. */
  MISMATCH,
  /** Answered 400: a bad or missing key. */
  INVALID,
  /** Answered 413: a keyed body over {@code max-request-bytes}. */
  TOO_LARGE,
  /**
   * A covered request passed through unprotected: the filter disabled, outside the rollout, no
   * key in key-only mode, a multipart body, or a keyless body over the limit. Requests the
   * filter does not cover are not counted.
   */
  BYPASSED,
  /** The store failed; executed unprotected ({@code fail-mode=open}). */
  FAIL_OPEN,
  /** The store failed; answered 503 ({@code fail-mode=closed}). */
  FAIL_CLOSED;

  /** The label value: {@code executed}, {@code too_large}, … */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
