package dev.idempotency;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 helpers. Thread-safe. */
final class Hashing {

  private static final HexFormat HEX = HexFormat.of();

  /** Never updated, only cloned: a provider look-up per request showed in the profile. */
  private static final MessageDigest PROTOTYPE = newSha256();

  private Hashing() {}

  static MessageDigest sha256() {
    try {
      return (MessageDigest) PROTOTYPE.clone();
    } catch (CloneNotSupportedException e) {
      return newSha256();
    }
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  static String sha256Hex(String text) {
    return HEX.formatHex(sha256().digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  static String hex(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  /**
   * Feeds a string and a separator. A string holding the separator (a form field's decoded
   * {@code %00}) has it escaped ({@code \1} as {@code \1\1}, {@code \0} as {@code \1\2}), so
   * no two sequences of strings feed the same bytes.
   */
  static void update(MessageDigest digest, String text) {
    if (text.indexOf('\0') >= 0 || text.indexOf('\1') >= 0) {
      text = text.replace("\1", "\1\1").replace("\0", "\1\2");
    }
    digest.update(text.getBytes(StandardCharsets.UTF_8));
    digest.update((byte) 0);
  }
}
