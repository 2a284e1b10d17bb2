package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class PostgresProcessTest {

  @Test
  void keepsItsDataAndPortAcrossAKillAndARestart() throws SQLException {
    try (PostgresProcess pg = PostgresProcess.start()) {
      int port = pg.port();
      execute(pg, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");

      pg.kill();
      assertThatThrownBy(() -> execute(pg, "SELECT 1")).isInstanceOf(SQLException.class);

      pg.startAgain();
      assertThat(pg.port()).isEqualTo(port);
      assertThat(queryInt(pg, "SELECT v FROM kept")).isEqualTo(7);

      pg.stop();
      pg.startAgain();
      assertThat(queryInt(pg, "SELECT v FROM kept")).isEqualTo(7);
    }
  }

  private static void execute(PostgresProcess pg, String sql) throws SQLException {
    try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static int queryInt(PostgresProcess pg, String sql) throws SQLException {
    try (Connection c = pg.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }
}
