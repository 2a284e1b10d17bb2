package dev.idempotency;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** What tests need of the filter's internals to plant records in a store directly. */
public final class IdempotencyFilterTestAccess {

  private IdempotencyFilterTestAccess() {}

  /** The store key of an anonymous caller's key. */
  public static String storeKeyOf(String key) {
    return IdempotencyFilter.storeKey("key", "anonymous", key);
  }

  /** The request hash of a JSON request without query. */
  public static String requestHashOf(String method, String path, String jsonBody) {
    byte[] body = jsonBody.getBytes(StandardCharsets.UTF_8);
    return new Fingerprint(List.of()).requestHash(method, path, null, "application/json",
        StandardCharsets.UTF_8, body, body.length);
  }
}
