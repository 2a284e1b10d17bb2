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

  /**
   * Two JSON bodies hash alike exactly when Jackson reads them as equal trees (objects compared
   * without order, numbers by their kind, integer or decimal, and their exact value), over random
   * documents written with shuffled members and random whitespace.
   */
  @Test
  void jsonBodiesHashAlikeExactlyWhenTheirTreesAreEqual() throws Exception {
    com.fasterxml.jackson.databind.ObjectMapper mapper =
        com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature
                .USE_BIG_DECIMAL_FOR_FLOATS)
            .nodeFactory(com.fasterxml.jackson.databind.node.JsonNodeFactory
                .withExactBigDecimals(true))
            .build();
    java.util.Comparator<com.fasterxml.jackson.databind.JsonNode> byKindAndValue = (x, y) -> {
      if (x.isNumber() && y.isNumber()) {
        if (x.isIntegralNumber() != y.isIntegralNumber()) {
          return 1;
        }
        return x.isIntegralNumber()
            ? x.bigIntegerValue().compareTo(y.bigIntegerValue())
            : x.decimalValue().compareTo(y.decimalValue());
      }
      return x.equals(y) ? 0 : 1;
    };
    java.util.Random random = new java.util.Random(7);
    List<String> docs = new java.util.ArrayList<>();
    for (int i = 0; i < 400; i++) {
      docs.add(randomJson(random, 3));
    }
    int equalPairs = 0;
    for (int i = 0; i < docs.size(); i++) {
      String a = docs.get(i);
      assertThat(hash(plain, "application/json", null, reformat(mapper.readTree(a), random)))
          .as(a).isEqualTo(hash(plain, "application/json", null, a));
      for (int j = i + 1; j < docs.size(); j++) {
        String b = docs.get(j);
        boolean equalTrees = mapper.readTree(a).equals(byKindAndValue, mapper.readTree(b));
        equalPairs += equalTrees ? 1 : 0;
        assertThat(hash(plain, "application/json", null, a)
            .equals(hash(plain, "application/json", null, b)))
            .as("%s vs %s", a, b).isEqualTo(equalTrees);
      }
    }
    assertThat(equalPairs).as("the generator repeats itself enough to test equality").isPositive();
    assertThat(hash(plain, "application/json", null, "{\"a\":1,\"a\":2}"))
        .as("a name twice makes bad JSON, hashed raw: parsers differ on which member counts")
        .isNotEqualTo(hash(plain, "application/json", null, "{\"a\":2}"))
        .isNotEqualTo(hash(plain, "application/json", null, "{\"a\":1}"));
    assertThat(hash(plain, "application/json", null,
        "{\"to\":\"x\",\"amount\":1234567890123456.7}"))
        .as("decimals compared exactly, not as doubles")
        .isNotEqualTo(hash(plain, "application/json", null,
            "{\"to\":\"x\",\"amount\":1234567890123456.8}"));
    assertThat(hash(plain, "application/json", null, "[0.1]"))
        .isNotEqualTo(hash(plain, "application/json", null, "[0.10000000000000001]"));
    assertThat(hash(plain, "application/json", null, "[1e2]"))
        .isEqualTo(hash(plain, "application/json", null, "[100.0]"));
    assertThat(hash(plain, "application/json", null, "{\"a\":1}"))
        .isNotEqualTo(hash(plain, "application/json", null, "{\"a\":\"1\"}"))
        .isNotEqualTo(hash(plain, "application/json", null, "{\"a\":1.0}"));
    assertThat(hash(plain, "application/json", null, "{\"a\":1.50}"))
        .isEqualTo(hash(plain, "application/json", null, "{\"a\":1.5}"));
    assertThat(hash(plain, "application/json", null, "[\"ab\",\"c\"]"))
        .isNotEqualTo(hash(plain, "application/json", null, "[\"a\",\"bc\"]"));
  }

  private static String randomJson(java.util.Random random, int depth) {
    int kind = random.nextInt(depth > 0 ? 9 : 7);
    return switch (kind) {
      case 0 -> "null";
      case 1 -> random.nextBoolean() ? "true" : "false";
      case 2 -> Integer.toString(random.nextInt(3) - 1);
      case 3 -> List.of("1.0", "1.50", "1.5", "-0.0", "0.0", "1e2", "100.0", "12345678901234567890")
          .get(random.nextInt(8));
      case 4 -> List.of("\"\"", "\"a\"", "\"1\"", "\"\\u00e9\"", "\"\u00e9\"", "\"a\\\"b\"")
          .get(random.nextInt(6));
      case 5, 6 -> "\"" + (char) ('a' + random.nextInt(2)) + "\"";
      case 7 -> {
        StringBuilder array = new StringBuilder("[");
        int n = random.nextInt(3);
        for (int i = 0; i < n; i++) {
          array.append(i > 0 ? "," : "").append(randomJson(random, depth - 1));
        }
        yield array.append(']').toString();
      }
      default -> {
        StringBuilder object = new StringBuilder("{");
        List<String> names = new java.util.ArrayList<>(List.of("a", "b", "c"));
        java.util.Collections.shuffle(names, random);
        int n = random.nextInt(4);
        for (int i = 0; i < n; i++) {
          object.append(i > 0 ? "," : "").append('"').append(names.get(i)).append("\":")
              .append(randomJson(random, depth - 1));
        }
        yield object.append('}').toString();
      }
    };
  }

  /** The same tree written again: members shuffled, whitespace added. */
  private static String reformat(com.fasterxml.jackson.databind.JsonNode node,
      java.util.Random random) {
    String space = random.nextBoolean() ? " " : "\n ";
    if (node.isObject()) {
      List<String> names = new java.util.ArrayList<>();
      node.fieldNames().forEachRemaining(names::add);
      java.util.Collections.shuffle(names, random);
      StringBuilder out = new StringBuilder("{" + space);
      for (int i = 0; i < names.size(); i++) {
        out.append(i > 0 ? "," + space : "")
            .append('"').append(names.get(i)).append('"')
            .append(space).append(':').append(reformat(node.get(names.get(i)), random));
      }
      return out.append(space).append('}').toString();
    }
    if (node.isArray()) {
      StringBuilder out = new StringBuilder("[" + space);
      for (int i = 0; i < node.size(); i++) {
        out.append(i > 0 ? "," + space : "").append(reformat(node.get(i), random));
      }
      return out.append(space).append(']').toString();
    }
    return node.toString();
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
    assertThat(hash(f, "application/json", null, "{\"a\":1,\"items\":[{\"nonce\":1,\"b\":2}]}"))
        .as("only the named member goes, not its siblings")
        .isNotEqualTo(hash(f, "application/json", null, "{\"a\":1,\"items\":[{\"nonce\":1}]}"));
    assertThat(hash(f, "application/json", null, "{\"a\":{\"ts\":1}}"))
        .as("a pointer matches one place, not the same name deeper down")
        .isNotEqualTo(hash(f, "application/json", null, "{\"a\":{\"ts\":2}}"));
    Fingerprint escaped = new Fingerprint(List.of(JsonPointer.compile("/a~1b"),
        JsonPointer.compile("/list/1")));
    assertThat(hash(escaped, "application/json", null, "{\"a/b\":1,\"list\":[1,2,3]}"))
        .isEqualTo(hash(escaped, "application/json", null, "{\"list\":[1,9,3],\"a/b\":7}"))
        .isNotEqualTo(hash(escaped, "application/json", null, "{\"list\":[1,9,4],\"a/b\":7}"));
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
