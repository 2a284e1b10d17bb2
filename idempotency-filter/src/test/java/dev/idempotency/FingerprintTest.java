package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonPointer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class FingerprintTest {

  private static String hash(Fingerprint f, String contentType, String query, String body) {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    return f.requestHash("POST", "/pay", query, contentType, StandardCharsets.UTF_8, b, b.length);
  }

  private final Fingerprint plain = new Fingerprint(List.of());

  @Test
  void jsonKeyOrderAndWhitespaceDoNotMatter() {
    assertThat(hash(plain, "application/json", null, "{\"a\":1,\"b\":2}"))
        .isEqualTo(hash(plain, "application/json; charset=utf-8", null, "{ \"b\":2, \"a\":1 }"));
    assertThat(hash(plain, "application/json", null, "{\"a\":[1,2]}"))
        .isNotEqualTo(hash(plain, "application/json", null, "{\"a\":[2,1]}"));
  }

  @Test
  void badJsonFallsBackToRawBytes() {
    assertThat(hash(plain, "application/json", null, "{\"a\":1"))
        .isNotEqualTo(hash(plain, "application/json", null, "{ \"a\":1"));
    assertThat(hash(plain, "application/json", null, "{\"a\":1} trailing"))
        .isNotEqualTo(hash(plain, "application/json", null, "{\"a\":1}"));
  }

  @Test
  void formParametersAreSortedAndQueryToo() {
    String ct = "application/x-www-form-urlencoded";
    assertThat(hash(plain, ct, "x=1&y=2", "a=1&b=2"))
        .isEqualTo(hash(plain, ct, "y=2&x=1", "b=2&a=1"));
    assertThat(hash(plain, ct, null, "a=1&b=2")).isNotEqualTo(hash(plain, ct, null, "a=1&b=3"));
  }

  @Test
  void otherBodiesAreHashedRaw() {
    assertThat(hash(plain, "text/plain", null, "a b"))
        .isNotEqualTo(hash(plain, "text/plain", null, "a  b"));
  }

  @Test
  void ignoredFieldsAreDroppedFromJsonAndForms() {
    Fingerprint f = new Fingerprint(List.of(JsonPointer.compile("/ts"),
        JsonPointer.compile("/items/0/nonce")));
    assertThat(hash(f, "application/json", null, "{\"a\":1,\"ts\":5,\"items\":[{\"nonce\":1}]}"))
        .isEqualTo(hash(f, "application/json", null, "{\"a\":1,\"ts\":6,\"items\":[{\"nonce\":2}]}"));
    assertThat(hash(f, "application/x-www-form-urlencoded", null, "a=1&ts=5"))
        .isEqualTo(hash(f, "application/x-www-form-urlencoded", null, "ts=9&a=1"));
  }

  @Test
  void keyParsingAcceptsBothFormsAndUnescapesStructuredStrings() {
    assertThat(KeyResolver.parse("abc", IdempotencyConfig.KeyFormat.ANY, "K").key())
        .isEqualTo("abc");
    assertThat(KeyResolver.parse("\"abc\"", IdempotencyConfig.KeyFormat.ANY, "K").key())
        .isEqualTo("abc");
    assertThat(KeyResolver.parse("\"a\\\"b\"", IdempotencyConfig.KeyFormat.ANY, "K").key())
        .isEqualTo("a\"b");
    assertThat(KeyResolver.parse("\"a\\x\"", IdempotencyConfig.KeyFormat.ANY, "K").invalid())
        .isNotNull();
    // Control and non-ASCII characters, which an HTTP client library will not even send.
    assertThat(KeyResolver.parse("a\u0001b", IdempotencyConfig.KeyFormat.ANY, "K").invalid())
        .isNotNull();
    assertThat(KeyResolver.parse("caf\u00e9", IdempotencyConfig.KeyFormat.ANY, "K").invalid())
        .isNotNull();
    assertThat(KeyResolver.parse("a\tb", IdempotencyConfig.KeyFormat.ANY, "K").invalid())
        .isNotNull();
  }
}
