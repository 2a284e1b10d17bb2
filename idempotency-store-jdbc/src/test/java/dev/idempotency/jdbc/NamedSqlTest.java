package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NamedSqlTest {

  private PostgresProcess pg;

  @BeforeAll
  void start() {
    pg = PostgresProcess.start();
  }

  @AfterAll
  void stop() {
    pg.close();
  }

  @Test
  void namesBecomePlaceholdersWhileCastsAndQuotedColonsStay() {
    NamedSql sql = NamedSql.parse("SELECT :a::text, ':not', :b1 || :a WHERE x = 'a:b'");
    assertThat(sql.jdbc()).isEqualTo("SELECT ?::text, ':not', ? || ? WHERE x = 'a:b'");
  }

  @Test
  void aNameUsedTwiceIsBoundAtEveryPlaceOnARealServer() throws SQLException {
    NamedSql sql = NamedSql.parse("SELECT CAST(:n AS bigint) + CAST(:n AS bigint), :word::text");
    try (Connection c = pg.dataSource().getConnection();
        PreparedStatement s = c.prepareStatement(sql.jdbc())) {
      sql.setLong(s, "n", 20);
      sql.setString(s, "word", "it's");
      try (ResultSet rs = s.executeQuery()) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getLong(1)).isEqualTo(40);
        assertThat(rs.getString(2)).isEqualTo("it's");
      }
    }
  }

  @Test
  void bindingANameTheStatementLacksNamesIt() {
    NamedSql sql = NamedSql.parse("SELECT :a");
    assertThatThrownBy(() -> sql.setLong(null, "b", 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(":b");
  }
}
