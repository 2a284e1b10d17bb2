package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonPointer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Request hashes that were equal for different requests, or threw. */
class FingerprintEdgeCasesTest {

  private static String hash(Fingerprint f, String contentType, String query, String body) {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    return f.requestHash("POST", "/pay", query, contentType, StandardCharsets.UTF_8, b, b.length);
  }

  private final Fingerprint plain = new Fingerprint(List.of());

  // SPEC §3: "bad JSON falls back to raw bytes" — a number Jackson cannot hold must not throw.
  @Test
  void jsonWithAnOutOfRangeExponentFallsBackToRawBytes() {
    for (String body : new String[] {
        "{\"amount\":1e9999999999}", "{\"amount\":1e-2147483648}", "{\"amount\":100e2147483647}"}) {
      assertThat(hash(plain, "application/json", null, body)).as(body)
          .isEqualTo(hash(plain, "text/plain", null, body));
    }
  }

  // The form a%00b=c is {"a\0b": "c"}, a=b%00c is {"a": "b\0c"}: the NUL field separator of
  // Hashing.update is inside the decoded text, so both feed "a\0b\0c\0".
  @Test
  void formFieldsContainingNulDoNotCollide() {
    String form = "application/x-www-form-urlencoded";
    assertThat(hash(plain, form, null, "a%00b=c")).isNotEqualTo(hash(plain, form, null, "a=b%00c"));
    assertThat(hash(plain, form, null, "a=b%00c%00d"))
        .isNotEqualTo(hash(plain, form, null, "a=b&c=d"));
  }

  // The canonical body carries no tag of its kind: a text/plain body equal to another request's
  // canonical JSON (or to a form's NUL-joined fields) hashes alike, though the bytes differ.
  @Test
  void bodiesOfDifferentKindsDoNotShareCanonicalForms() {
    assertThat(hash(plain, "application/json", null, "{ \"b\":2, \"a\":1 }"))
        .isNotEqualTo(hash(plain, "text/plain", null, "{\"a\":1,\"b\":2}"));
    assertThat(hash(plain, "application/x-www-form-urlencoded", null, "a=b"))
        .isNotEqualTo(hash(plain, "application/octet-stream", null, "a\0b\0"));
  }

  // ignore-fields /items/0,/items/1 must drop the first two items; it drops items[0] and,
  // after the shift, the original items[2].
  @Test
  void twoIgnoredIndicesOfOneArrayDropThoseTwoElements() {
    Fingerprint f = new Fingerprint(
        List.of(JsonPointer.compile("/items/0"), JsonPointer.compile("/items/1")));
    assertThat(hash(f, "application/json", null, "{\"items\":[1,2,3]}"))
        .as("items[2] is not ignored")
        .isNotEqualTo(hash(f, "application/json", null, "{\"items\":[1,2,999]}"));
    assertThat(hash(f, "application/json", null, "{\"items\":[1,2,3]}"))
        .as("items[1] is ignored")
        .isEqualTo(hash(f, "application/json", null, "{\"items\":[1,999,3]}"));
  }

  // %FC and %F6 (Latin-1 ü, ö) are not UTF-8: both decode to U+FFFD and hash alike, while the
  // servlet reading the form as ISO-8859-1 sees Jürgen and Jörgen.
  @Test
  void formBytesThatAreNotUtf8DoNotCollapse() {
    String form = "application/x-www-form-urlencoded";
    assertThat(hash(plain, form, null, "name=J%FCrgen"))
        .isNotEqualTo(hash(plain, form, null, "name=J%F6rgen"));
  }

  // A raw body's hash is as before the JSON and form tags came: records stored by an earlier
  // build still match their retries (method, path, end of query, then the bytes).
  @Test
  void aRawBodyHashesAsBefore() {
    assertThat(hash(plain, "text/plain", null, "amount=5"))
        .isEqualTo(Hashing.sha256Hex("POST\0/pay\0\0amount=5"));
  }
}
