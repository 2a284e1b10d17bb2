package dev.idempotency.spi;

import java.time.Duration;
import java.util.Objects;

/** The outcome of {@link IdempotencyStore#acquire}. Immutable and thread-safe. */
public sealed interface Acquisition {

  /**
   * The caller owns the key and must execute, then {@code complete} or {@code release} it with
   * this token.
   *
   * @param recovered true if a stale lock of a dead owner was taken over
   */
  record Acquired(long token, boolean recovered) implements Acquisition {}

  /** Another owner holds a live lock; it expires in {@code lockExpiresIn} unless renewed. */
  record InFlight(Duration lockExpiresIn) implements Acquisition {
    public InFlight {
      Objects.requireNonNull(lockExpiresIn, "lockExpiresIn");
    }
  }

  /** The key completed with the same request hash: replay this response. */
  record Completed(StoredResponse response) implements Acquisition {
    public Completed {
      Objects.requireNonNull(response, "response");
    }
  }

  /** The key is held (in flight or completed) for a request with another hash. */
  record Mismatch() implements Acquisition {}

  /** The one {@link Mismatch} instance. */
  Mismatch MISMATCH = new Mismatch();
}
