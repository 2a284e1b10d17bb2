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
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.URLDecoder;
import java.nio.charset.Charset;
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
 * parameters, anything else — bad JSON too — by raw bytes; the ignored fields are dropped first.
 * Thread-safe.
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
    if (isJson(mime) && canonicalJson(digest, body, length)) {
      return Hashing.hex(digest.digest());
    }
    if (mime.equals("application/x-www-form-urlencoded")) {
      canonicalForm(digest, new String(body, 0, length, charset), charset);
    } else {
      digest.update(body, 0, length);
    }
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
    List<String> pairs = new ArrayList<>(List.of(query.split("&")));
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

  private boolean canonicalJson(MessageDigest digest, byte[] body, int length) {
    JsonNode tree;
    try {
      tree = JSON.readTree(body, 0, length);
    } catch (IOException e) {
      return false;
    }
    if (tree == null || tree.isMissingNode()) {
      return false;
    }
    for (JsonPointer pointer : ignoreFields) {
      JsonNode parent = tree.at(pointer.head());
      JsonPointer last = pointer.last();
      if (parent instanceof ObjectNode object) {
        object.remove(last.getMatchingProperty());
      } else if (parent instanceof ArrayNode array && last.getMatchingIndex() >= 0) {
        array.remove(last.getMatchingIndex());
      }
    }
    try (JsonGenerator g = FACTORY.createGenerator(new DigestOutput(digest))) {
      writeSorted(g, tree);
    } catch (IOException e) {
      throw new IllegalStateException("writing to a digest cannot fail", e);
    }
    return true;
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

  private void canonicalForm(MessageDigest digest, String body, Charset charset) {
    List<Map.Entry<String, String>> params = new ArrayList<>();
    for (String pair : body.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq), charset);
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1), charset);
      if (!ignored(name)) {
        params.add(Map.entry(name, value));
      }
    }
    params.sort(Map.Entry.comparingByKey());
    for (Map.Entry<String, String> p : params) {
      Hashing.update(digest, p.getKey());
      Hashing.update(digest, p.getValue());
    }
  }

  private boolean ignored(String formField) {
    for (JsonPointer p : ignoreFields) {
      if (p.tail() != null && p.tail().matches() && formField.equals(p.getMatchingProperty())) {
        return true;
      }
    }
    return false;
  }

  private static String decode(String s, Charset charset) {
    try {
      return URLDecoder.decode(s, charset);
    } catch (IllegalArgumentException e) {
      return s;
    }
  }

  /** Feeds written bytes to a digest. */
  private static final class DigestOutput extends OutputStream {
    private final MessageDigest digest;

    DigestOutput(MessageDigest digest) {
      this.digest = digest;
    }

    @Override
    public void write(int b) {
      digest.update((byte) b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      digest.update(b, off, len);
    }
  }
}
