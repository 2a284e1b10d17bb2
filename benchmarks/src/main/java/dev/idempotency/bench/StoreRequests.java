package dev.idempotency.bench;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** What the store benchmarks ask of a store, as the filter would. Stateless. */
final class StoreRequests {

  static final Duration LOCK = Duration.ofSeconds(30);

  private StoreRequests() {}

  /** A 201 with two headers and a 200-byte body, about what the sample's order handler answers. */
  static StoredResponse response() {
    byte[] body = new byte[200];
    Arrays.fill(body, (byte) 'x');
    return new StoredResponse(
        201,
        Map.of("Content-Type", List.of("application/json"), "Location", List.of("/orders/1")),
        body);
  }

  /** A first-time request: the claim, then the stored response. */
  static boolean firstTime(IdempotencyStore store, String key, StoredResponse response,
      Duration retention) {
    long token = ((Acquisition.Acquired) store.acquire(key, "hash", LOCK, retention)).token();
    return store.complete(key, token, response, retention);
  }

  /** {@code count} new keys ({@code prefix} + a UUID), each completed with {@code response}. */
  static String[] completedKeys(IdempotencyStore store, String prefix, int count,
      StoredResponse response, Duration retention) {
    String[] keys = new String[count];
    for (int i = 0; i < count; i++) {
      keys[i] = prefix + UUID.randomUUID();
      firstTime(store, keys[i], response, retention);
    }
    return keys;
  }
}
