package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.idempotency.IdempotencyConfig.FailMode;
import dev.idempotency.IdempotencyConfig.InFlightMode;
import dev.idempotency.IdempotencyConfig.KeyMode;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsTest {

  private static Settings read(Map<String, String> init, Map<String, String> env,
      Map<String, String> props) {
    return Settings.from(init::get, env::get, props::get);
  }

  @Test
  void defaultsFollowTheSpec() {
    IdempotencyConfig c = IdempotencyConfig.defaults();
    assertThat(c.enabled()).isTrue();
    assertThat(c.rolloutPercent()).isEqualTo(100);
    assertThat(c.header()).isEqualTo("Idempotency-Key");
    assertThat(c.methods()).containsExactlyInAnyOrder("POST", "PATCH");
    assertThat(c.keyMode()).isEqualTo(KeyMode.OPTIONAL);
    assertThat(c.lockTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.retention()).isEqualTo(Duration.ofHours(24));
    assertThat(c.fingerprintWindow()).isEqualTo(Duration.ofMillis(100));
    assertThat(c.inFlight()).isEqualTo(InFlightMode.REJECT);
    assertThat(c.waitTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.failMode()).isEqualTo(FailMode.OPEN);
    assertThat(c.maxRequestBytes()).isEqualTo(1024 * 1024);
    assertThat(c.maxResponseBytes()).isEqualTo(1024 * 1024);
    assertThat(c.replaySetCookie()).isFalse();
    assertThat(c.adminToken()).isNull();
    Settings s = read(Map.of(), Map.of(), Map.of());
    assertThat(s.store()).isEqualTo("memory");
    assertThat(s.storeSettings().redisUri()).isEqualTo("redis://127.0.0.1:6379");
  }

  @Test
  void systemPropertyBeatsEnvironmentBeatsInitParam() {
    Map<String, String> init = Map.of("lock-timeout", "1s", "retention", "1h", "wait-timeout", "2s");
    Map<String, String> env = Map.of("IDEMPOTENCY_LOCK_TIMEOUT", "2s", "IDEMPOTENCY_RETENTION", "2h");
    Map<String, String> props = Map.of("idempotency.lock-timeout", "3s");
    IdempotencyConfig c = read(init, env, props).config();
    assertThat(c.lockTimeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(c.retention()).isEqualTo(Duration.ofHours(2));
    assertThat(c.waitTimeout()).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void environmentNamesAreUpperCaseWithUnderscores() {
    assertThat(Settings.environmentName("redis.uri")).isEqualTo("IDEMPOTENCY_REDIS_URI");
    assertThat(Settings.environmentName("fingerprint.ignore-fields"))
        .isEqualTo("IDEMPOTENCY_FINGERPRINT_IGNORE_FIELDS");
    Settings s = read(Map.of(), Map.of("IDEMPOTENCY_STORE", "redis+jdbc",
        "IDEMPOTENCY_JDBC_CREATE_SCHEMA", "true"), Map.of());
    assertThat(s.store()).isEqualTo("redis+jdbc");
    assertThat(s.storeSettings().jdbcCreateSchema()).isTrue();
  }

  @Test
  void readsTheJdbcDataSourceNameFromEachSource() {
    assertThat(read(Map.of("jdbc.datasource", "java:comp/env/jdbc/init"), Map.of(), Map.of())
        .storeSettings().jdbcDataSource()).isEqualTo("java:comp/env/jdbc/init");
    assertThat(read(Map.of("jdbc.datasource", "java:comp/env/jdbc/init"),
        Map.of("IDEMPOTENCY_JDBC_DATASOURCE", "java:comp/env/jdbc/env"), Map.of())
        .storeSettings().jdbcDataSource()).isEqualTo("java:comp/env/jdbc/env");
    assertThat(read(Map.of(), Map.of("IDEMPOTENCY_JDBC_DATASOURCE", "java:comp/env/jdbc/env"),
        Map.of("idempotency.jdbc.datasource", " java:comp/env/jdbc/prop ")).storeSettings()
        .jdbcDataSource()).isEqualTo("java:comp/env/jdbc/prop");
    assertThat(read(Map.of(), Map.of(), Map.of()).storeSettings().jdbcDataSource()).isNull();
  }

  @Test
  void parsesDurationsAndSizesInEveryDocumentedForm() {
    assertThat(Settings.parseDuration("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Settings.parseDuration("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Settings.parseDuration("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Settings.parseDuration("24h")).isEqualTo(Duration.ofHours(24));
    assertThat(Settings.parseDuration("PT30S")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Settings.parseDuration("pt1m")).isEqualTo(Duration.ofMinutes(1));
    assertThat(Settings.parseSize("512KiB")).isEqualTo(512 * 1024);
    assertThat(Settings.parseSize("1MiB")).isEqualTo(1024 * 1024);
    assertThat(Settings.parseSize("4096")).isEqualTo(4096);
  }

  @Test
  void badValuesFailNamingTheSettingAndTheValue() {
    assertThatThrownBy(() -> read(Map.of("lock-timeout", "soon"), Map.of(), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idempotency.lock-timeout").hasMessageContaining("soon");
    assertThatThrownBy(() -> read(Map.of(), Map.of("IDEMPOTENCY_IN_FLIGHT", "later"), Map.of()))
        .hasMessageContaining("idempotency.in-flight").hasMessageContaining("later");
    assertThatThrownBy(() -> read(Map.of("max-request-bytes", "lots"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.max-request-bytes").hasMessageContaining("lots");
    assertThatThrownBy(() -> read(Map.of("rollout.percent", "120"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.rollout.percent").hasMessageContaining("120");
    assertThatThrownBy(() -> read(Map.of("enabled", "yes"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.enabled").hasMessageContaining("yes");
    assertThatThrownBy(() -> read(Map.of("paths.include", "api/*"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.paths.include").hasMessageContaining("api/*");
    assertThatThrownBy(() -> read(Map.of("fingerprint.ignore-fields", "timestamp"), Map.of(),
        Map.of())).hasMessageContaining("idempotency.fingerprint.ignore-fields");
    assertThatThrownBy(() -> read(Map.of("lock-timeout", "0s"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.lock-timeout");
  }

  @Test
  void durationsTheStoresCannotHoldAreRefusedNamingTheRange() {
    // Under 1 ms: 0 ms in the stores (a lock stale when written; Redis refuses PX 0).
    assertThatThrownBy(() -> read(Map.of("lock-timeout", "PT0.0005S"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.lock-timeout must be between 1ms and 1d");
    // 40 years of lock: over 10^12 ms, which the Redis store would misread.
    assertThatThrownBy(() -> read(Map.of("lock-timeout", "14600d"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.lock-timeout must be between 1ms and 1d");
    assertThatThrownBy(() -> read(Map.of("retention", "3651d"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.retention must be between 1ms and 3650d");
    assertThatThrownBy(() -> read(Map.of("fingerprint.window", "PT0.0001S"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.fingerprint.window");
    assertThatThrownBy(() -> read(Map.of("wait-timeout", "2d"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.wait-timeout");
    assertThat(read(Map.of("lock-timeout", "1d", "retention", "3650d"), Map.of(), Map.of())
        .config().retention()).isEqualTo(Duration.ofDays(3650));
    assertThat(read(Map.of("lock-timeout", "1ms"), Map.of(), Map.of()).config().lockTimeout())
        .isEqualTo(Duration.ofMillis(1));
  }

  @Test
  void outOfRangeAndMalformedValuesAreRefusedNamingTheSetting() {
    // Not wrapped around into range as an int (4294967346 was read as 50).
    assertThatThrownBy(() -> read(Map.of("rollout.percent", "4294967346"), Map.of(), Map.of()))
        .hasMessage("idempotency.rollout.percent must be a whole number from 0 to 100: "
            + "'4294967346'");
    assertThatThrownBy(() -> read(Map.of("rollout.percent", "101"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.rollout.percent");
    assertThatThrownBy(() -> read(Map.of("lock-timeout", "99999999999999999999s"), Map.of(),
        Map.of())).hasMessageContaining("idempotency.lock-timeout must be a duration");
    assertThatThrownBy(() -> read(Map.of("lock-timeout", "0ms"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.lock-timeout must be between 1ms and 1d");
    // A header nobody can send would put every caller in one scope.
    assertThatThrownBy(() -> read(Map.of("scope.header", "Bad Header:"), Map.of(), Map.of()))
        .hasMessageContaining("idempotency.scope.header must be a header name");
    assertThatThrownBy(() -> read(Map.of("max-request-bytes", "2147483640"), Map.of(), Map.of()))
        .hasMessageContaining("from 0 to 2147483639 bytes");
    assertThat(read(Map.of("max-request-bytes", "2147483639"), Map.of(), Map.of()).config()
        .maxRequestBytes()).isEqualTo(2147483639L);
  }

  @Test
  void aBlankValueLeavesTheSettingToTheNextSource() {
    IdempotencyConfig c = read(Map.of(), Map.of("IDEMPOTENCY_RETENTION", "2h"),
        Map.of("idempotency.retention", "")).config();
    assertThat(c.retention()).isEqualTo(Duration.ofHours(2));
    assertThat(read(Map.of("retention", "3h"), Map.of("IDEMPOTENCY_RETENTION", " "), Map.of())
        .config().retention()).isEqualTo(Duration.ofHours(3));
  }

  @Test
  void builderRejectsUnknownSettingsAndBadValuesAtBuild() {
    assertThatThrownBy(() -> IdempotencyFilter.builder(new dev.idempotency.memory.MemoryStore())
        .set("lock-timout", "1s")).hasMessageContaining("lock-timout");
    assertThatThrownBy(() -> IdempotencyFilter.builder(new dev.idempotency.memory.MemoryStore())
        .set("store", "redis")).hasMessageContaining("the builder was given one");
    assertThatThrownBy(() -> IdempotencyFilter.builder(new dev.idempotency.memory.MemoryStore())
        .retention(Duration.ZERO).build()).hasMessageContaining("idempotency.retention");
  }

  @Test
  void everySpecSettingHasADefaultEntry() {
    assertThat(Settings.DEFAULTS.keySet()).contains("enabled", "rollout.percent", "store",
        "redis.uri", "jdbc.url", "jdbc.datasource", "jdbc.user", "jdbc.password",
        "jdbc.create-schema",
        "scope.header", "scope.cookie", "header", "methods", "paths.include", "paths.exclude", "key.mode",
        "key.format", "lock-timeout", "retention", "fingerprint.window",
        "fingerprint.ignore-fields", "in-flight", "wait-timeout", "fail-mode",
        "max-request-bytes", "max-response-bytes", "replay.set-cookie", "admin.token");
  }
}
