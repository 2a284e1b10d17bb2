package dev.idempotency.jdbc;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.stream.Collectors;

/** The SQL resources of this package, loaded once. */
final class Sql {

  static final String SCHEMA = load("schema-postgresql.sql", false);
  static final String ACQUIRE = load("acquire.sql", true);
  static final String COMPLETE = load("complete.sql", true);
  static final String RELEASE = load("release.sql", true);
  static final String RENEW = load("renew.sql", true);
  static final String INSPECT = load("inspect.sql", true);
  static final String IN_FLIGHT_OLDER_THAN = load("in-flight-older-than.sql", true);
  static final String PURGE_KEY = load("purge-key.sql", true);
  static final String PURGE_EXPIRED = load("purge-expired.sql", true);
  static final String FIND = load("find.sql", true);
  static final String MIRROR = load("mirror.sql", true);
  static final String TOMBSTONE = load("tombstone.sql", true);

  private Sql() {}

  /**
   * Reads a resource; for statements, drops whole-line comments, whose prose could otherwise be
   * taken for named parameters or quotes by Jdbi's parser.
   */
  private static String load(String name, boolean stripComments) {
    try (InputStream in = Sql.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing SQL resource dev/idempotency/jdbc/" + name);
      }
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      if (!stripComments) {
        return text;
      }
      return text.lines()
          .filter(line -> !line.strip().startsWith("--"))
          .collect(Collectors.joining("\n"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read SQL resource " + name, e);
    }
  }
}
