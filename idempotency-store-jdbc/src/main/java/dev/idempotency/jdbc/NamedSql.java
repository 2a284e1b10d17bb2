package dev.idempotency.jdbc;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A statement from a resource file with {@code :name} parameters, turned into plain JDBC
 * {@code ?} placeholders once, for the operations on the request path that skip Jdbi. Immutable
 * and thread-safe.
 */
final class NamedSql {

  private final String jdbc;
  private final Map<String, int[]> positions;

  private NamedSql(String jdbc, Map<String, int[]> positions) {
    this.jdbc = jdbc;
    this.positions = positions;
  }

  /** Parses {@code :name} outside quotes; {@code ::type} casts stay as they are. */
  static NamedSql parse(String sql) {
    StringBuilder out = new StringBuilder(sql.length());
    Map<String, List<Integer>> found = new HashMap<>();
    int position = 0;
    boolean quoted = false;
    for (int i = 0; i < sql.length(); i++) {
      char c = sql.charAt(i);
      if (c == '\'') {
        quoted = !quoted;
      } else if (!quoted && c == ':' && i + 1 < sql.length()) {
        char next = sql.charAt(i + 1);
        if (next == ':') {
          out.append("::");
          i++;
          continue;
        }
        if (Character.isLetter(next)) {
          int end = i + 1;
          while (end < sql.length() && Character.isLetterOrDigit(sql.charAt(end))) {
            end++;
          }
          found.computeIfAbsent(sql.substring(i + 1, end), k -> new ArrayList<>()).add(++position);
          out.append('?');
          i = end - 1;
          continue;
        }
      }
      out.append(c);
    }
    Map<String, int[]> positions = new HashMap<>();
    found.forEach((name, list) ->
        positions.put(name, list.stream().mapToInt(Integer::intValue).toArray()));
    return new NamedSql(out.toString(), Map.copyOf(positions));
  }

  String jdbc() {
    return jdbc;
  }

  private int[] at(String name) {
    int[] at = positions.get(name);
    if (at == null) {
      throw new IllegalArgumentException("no parameter :" + name + " in " + jdbc);
    }
    return at;
  }

  void setString(PreparedStatement s, String name, String value) throws SQLException {
    for (int i : at(name)) {
      s.setString(i, value);
    }
  }

  void setLong(PreparedStatement s, String name, long value) throws SQLException {
    for (int i : at(name)) {
      s.setLong(i, value);
    }
  }

  void setInt(PreparedStatement s, String name, int value) throws SQLException {
    for (int i : at(name)) {
      s.setInt(i, value);
    }
  }

  void setBytes(PreparedStatement s, String name, byte[] value) throws SQLException {
    for (int i : at(name)) {
      s.setBytes(i, value);
    }
  }
}
