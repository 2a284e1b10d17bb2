package dev.idempotency;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The request hash of SPEC §3/§4: SHA-256 over method, path, canonical query and canonical
 * body. JSON bodies are canonicalised (keys sorted, whitespace dropped), form bodies by sorted
 * parameters, anything else — bad JSON, a form that does not decode exactly — by raw bytes; the
 * ignored fields are dropped first. A canonical JSON or form body is tagged as such in the hash,
 * so a raw body with the same bytes is another request. Thread-safe.
 */
final class Fingerprint {

  /**
   * Decimals read exactly (as doubles, 1234567890123456.7 and .8 were one number), and a name
   * twice in one object makes the body bad JSON, hashed raw: a parser that keeps the first of two
   * members would read another request than one that keeps the last.
   */
  private static final ObjectMapper JSON = JsonMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
      .build();
  private static final JsonFactory FACTORY = JSON.getFactory();

  private final List<JsonPointer> ignoreFields;

  Fingerprint(List<JsonPointer> ignoreFields) {
    this.ignoreFields = ignoreFields;
  }

  /** The request hash, hex. */
  String requestHash(
      String method,
      String path,
      String query,
      String contentType,
      Charset charset,
      byte[] body,
      int length) {
    MessageDigest digest = Hashing.sha256();
    Hashing.update(digest, method);
    Hashing.update(digest, path);
    canonicalQuery(digest, query);
    String mime = mimeType(contentType);
    if (isJson(mime)) {
      byte[] json = canonicalJson(body, length);
      if (json != null) {
        Hashing.update(digest, "json");
        digest.update(json);
        return Hashing.hex(digest.digest());
      }
    }
    if (mime.equals("application/x-www-form-urlencoded")) {
      List<Map.Entry<String, String>> form = canonicalForm(body, length, charset);
      if (form != null) {
        Hashing.update(digest, "form");
        for (Map.Entry<String, String> p : form) {
          Hashing.update(digest, p.getKey());
          Hashing.update(digest, p.getValue());
        }
        return Hashing.hex(digest.digest());
      }
    }
    // Raw bodies carry no tag: their hashes are as they were before the tags came.
    digest.update(body, 0, length);
    return Hashing.hex(digest.digest());
  }

  static String mimeType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semicolon = contentType.indexOf(';');
    String mime = semicolon < 0 ? contentType : contentType.substring(0, semicolon);
    return mime.trim().toLowerCase(Locale.ROOT);
  }

  static boolean isJson(String mime) {
    return mime.equals("application/json") || mime.endsWith("+json");
  }

  private static void canonicalQuery(MessageDigest digest, String query) {
    if (query == null || query.isEmpty()) {
      Hashing.update(digest, "");
      return;
    }
    List<String> pairs = new ArrayList<>();
    for (String pair : query.split("&")) {
      // an empty pair (a&&b, a trailing &) is no parameter, and no second end of the query
      if (!pair.isEmpty()) {
        pairs.add(pair);
      }
    }
    pairs.sort(Comparator.comparing(Fingerprint::nameOf));
    for (String pair : pairs) {
      Hashing.update(digest, pair);
    }
    Hashing.update(digest, "");
  }

  private static String nameOf(String pair) {
    int eq = pair.indexOf('=');
    return eq < 0 ? pair : pair.substring(0, eq);
  }

  /**
   * The canonical JSON, or null to hash the body raw: bad JSON, or a number no exact spelling
   * fits (an exponent past what a {@code BigDecimal} holds: Jackson and the canonical writer
   * throw runtime exceptions there, which were a 500).
   */
  private byte[] canonicalJson(byte[] body, int length) {
    JsonNode tree;
    try {
      tree = JSON.readTree(body, 0, length);
    } catch (IOException | RuntimeException e) {
      return null;
    }
    if (tree == null || tree.isMissingNode()) {
      return null;
    }
    dropIgnoredFields(tree);
    ByteArrayOutputStream out = new ByteArrayOutputStream(length + 16);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      writeSorted(g, tree);
    } catch (IOException | RuntimeException e) {
      return null;
    }
    return out.toByteArray();
  }

  /**
   * Resolves every pointer before removing anything: removing an array element one pointer at a
   * time shifted the indices the later pointers meant ({@code /items/0} and {@code /items/1}
   * dropped the first and the third).
   */
  private void dropIgnoredFields(JsonNode tree) {
    java.util.IdentityHashMap<ArrayNode, java.util.TreeSet<Integer>> indices =
        new java.util.IdentityHashMap<>();
    List<Map.Entry<ObjectNode, String>> properties = new ArrayList<>();
    for (JsonPointer pointer : ignoreFields) {
      JsonNode parent = tree.at(pointer.head());
      JsonPointer last = pointer.last();
      if (parent instanceof ObjectNode object) {
        properties.add(Map.entry(object, last.getMatchingProperty()));
      } else if (parent instanceof ArrayNode array && last.getMatchingIndex() >= 0) {
        indices.computeIfAbsent(array, a -> new java.util.TreeSet<>())
            .add(last.getMatchingIndex());
      }
    }
    for (Map.Entry<ObjectNode, String> property : properties) {
      property.getKey().remove(property.getValue());
    }
    indices.forEach((array, at) -> {
      for (int index : at.descendingSet()) {
        array.remove(index);
      }
    });
  }

  private static void writeSorted(JsonGenerator g, JsonNode node) throws IOException {
    if (node.isObject()) {
      g.writeStartObject();
      // An array sorted once, not a TreeSet per object: names in a JSON object are unique.
      String[] names = new String[node.size()];
      int count = 0;
      for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
        names[count++] = it.next();
      }
      if (count > 1) {
        Arrays.sort(names, 0, count);
      }
      for (int i = 0; i < count; i++) {
        String name = names[i];
        g.writeFieldName(name);
        writeSorted(g, node.get(name));
      }
      g.writeEndObject();
    } else if (node.isArray()) {
      g.writeStartArray();
      for (JsonNode element : node) {
        writeSorted(g, element);
      }
      g.writeEndArray();
    } else if (node.isFloatingPointNumber()) {
      // One spelling per value (1.50, 1.5 and 15e-1 alike), never expanded (1e999999999 stays
      // short), and unlike any integer (1.0 is not 1).
      BigDecimal value = node.decimalValue().stripTrailingZeros();
      g.writeNumber(value.unscaledValue() + "E" + (-(long) value.scale()));
    } else {
      g.writeTree(node);
    }
  }

  /**
   * The form's parameters sorted by name (a name's values keep their order), or null to hash the
   * body raw: a byte that is not in the charset (a Latin-1 {@code %FC} read as UTF-8) or a bad
   * escape ({@code %zz}) would otherwise decode to a stand-in, and two forms to one.
   */
  private List<Map.Entry<String, String>> canonicalForm(byte[] body, int length,
      Charset charset) {
    CharsetDecoder decoder = charset.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    List<Map.Entry<String, String>> params = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= length; i++) {
      if (i < length && body[i] != '&') {
        continue;
      }
      if (i > start) {
        int eq = start;
        while (eq < i && body[eq] != '=') {
          eq++;
        }
        String name = decode(body, start, eq, decoder);
        String value = eq < i ? decode(body, eq + 1, i, decoder) : "";
        if (name == null || value == null) {
          return null;
        }
        if (!ignored(name)) {
          params.add(Map.entry(name, value));
        }
      }
      start = i + 1;
    }
    params.sort(Map.Entry.comparingByKey());
    return params;
  }

  private boolean ignored(String formField) {
    for (JsonPointer p : ignoreFields) {
      if (p.tail() != null && p.tail().matches() && formField.equals(p.getMatchingProperty())) {
        return true;
      }
    }
    return false;
  }

  /** {@code application/x-www-form-urlencoded} decoding of body[from, to); null if inexact. */
  private static String decode(byte[] body, int from, int to, CharsetDecoder decoder) {
    byte[] bytes = new byte[to - from];
    int n = 0;
    for (int i = from; i < to; i++) {
      byte b = body[i];
      if (b == '+') {
        bytes[n++] = ' ';
      } else if (b == '%') {
        int hi = i + 2 < to ? Character.digit(body[i + 1], 16) : -1;
        int lo = i + 2 < to ? Character.digit(body[i + 2], 16) : -1;
        if (hi < 0 || lo < 0) {
          return null;
        }
        bytes[n++] = (byte) (hi * 16 + lo);
        i += 2;
      } else {
        bytes[n++] = b;
      }
    }
    try {
      return decoder.reset().decode(java.nio.ByteBuffer.wrap(bytes, 0, n)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
