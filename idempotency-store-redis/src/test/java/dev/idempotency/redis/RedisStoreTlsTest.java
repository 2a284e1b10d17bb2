package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import dev.idempotency.spi.StoredResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rediss://} against a real {@code redis-server} that speaks only TLS, with a private CA
 * made at test time: trusted the way README says (the JVM's trust store), with a password, with
 * peer verification relaxed by a URI option, and refused with a clear start-up error when the
 * certificate is not trusted or the scheme does not match the port.
 */
class RedisStoreTlsTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  @TempDir static Path dir;
  private static TestCertificates certs;
  private static RedisProcess redis;

  @BeforeAll
  static void startTlsRedis() {
    certs = TestCertificates.create(dir);
    redis = RedisProcess.startTls(certs, RedisProcess.freePort(false), List.of());
  }

  @AfterAll
  static void stopTlsRedis() {
    redis.close();
  }

  private static String key() {
    return "tls:" + UUID.randomUUID();
  }

  /**
   * Runs {@code action} with {@code javax.net.ssl.trustStore} naming {@code certs}' trust store, as
   * a user's {@code -Djavax.net.ssl.trustStore=...} would, and puts the JVM's properties back.
   */
  static <T> T trusting(TestCertificates certs, Supplier<T> action) {
    Map<String, String> set =
        Map.of(
            "javax.net.ssl.trustStore", certs.trustStore().toString(),
            "javax.net.ssl.trustStorePassword", TestCertificates.PASSWORD,
            "javax.net.ssl.trustStoreType", "PKCS12");
    Map<String, String> before = new java.util.HashMap<>();
    set.keySet().forEach(name -> before.put(name, System.getProperty(name)));
    set.forEach(System::setProperty);
    try {
      return action.get();
    } finally {
      before.forEach(
          (name, value) -> {
            if (value == null) {
              System.clearProperty(name);
            } else {
              System.setProperty(name, value);
            }
          });
    }
  }

  private static void assertWorks(IdempotencyStore store) {
    String key = key();
    Acquisition first = store.acquire(key, "h", LOCK, RETENTION);
    assertThat(first).isInstanceOf(Acquisition.Acquired.class);
    long token = ((Acquisition.Acquired) first).token();
    byte[] body = "over tls".getBytes(StandardCharsets.UTF_8);
    assertThat(store.complete(key, token, new StoredResponse(201, Map.of(), body), RETENTION))
        .isTrue();
    assertThat(store.acquire(key, "h", LOCK, RETENTION))
        .isInstanceOfSatisfying(
            Acquisition.Completed.class,
            done -> {
              assertThat(done.response().status()).isEqualTo(201);
              assertThat(done.response().body()).isEqualTo(body);
            });
  }

  @Test
  void storeWorksOverTlsTrustingThePrivateCaThroughTheJvmTrustStore() {
    try (RedisStore store = trusting(certs, () -> RedisStore.builder(redis.uri()).build())) {
      String key = key();
      assertThat(store.acquire(key, "h", LOCK, RETENTION))
          .isInstanceOf(Acquisition.Acquired.class);
      assertThat(redis.call("EXISTS", "idem:" + key)).as("the record, read over TLS").isEqualTo(1L);
      assertWorks(store);
    }
  }

  @Test
  void passwordInARedissUriAuthenticates() {
    try (RedisProcess secured =
            RedisProcess.startTls(
                certs, RedisProcess.freePort(false), List.of("--requirepass", "s3cret"));
        RedisStore store =
            trusting(
                certs,
                () ->
                    RedisStore.builder("rediss://:s3cret@127.0.0.1:" + secured.port()).build())) {
      assertWorks(store);
    }
  }

  @Test
  void verifyPeerNoneConnectsWithoutTrustingTheCertificate() {
    try (RedisStore store =
        RedisStore.builder(redis.uri() + "?verifyPeer=NONE").build()) {
      assertWorks(store);
    }
  }

  @Test
  void untrustedCertificateFailsStartUpSayingHowToTrustIt() {
    long start = System.nanoTime();
    assertThatThrownBy(() -> RedisStore.builder(redis.uri()).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("cannot connect to Redis at 127.0.0.1:" + redis.port())
        .hasMessageContaining("unable to find valid certification path")
        .hasMessageContaining("javax.net.ssl.trustStore");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void plainSchemeOnATlsPortFailsStartUpSuggestingRediss() {
    long start = System.nanoTime();
    assertThatThrownBy(() -> RedisStore.builder("redis://127.0.0.1:" + redis.port()).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("cannot connect to Redis at 127.0.0.1:" + redis.port())
        .hasMessageContaining("use rediss://");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void tlsSchemeOnAPlainPortFailsStartUpSuggestingRedis() {
    try (RedisProcess plain = RedisProcess.start()) {
      long start = System.nanoTime();
      assertThatThrownBy(
              () -> trusting(certs, () -> RedisStore.builder("rediss://127.0.0.1:" + plain.port())
                  .build()))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("cannot connect to Redis at 127.0.0.1:" + plain.port())
          .hasMessageContaining("use redis://");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
  }

  @Test
  void serverAskingForAClientCertificateFailsStartUpSayingSo() {
    try (RedisProcess strict =
        RedisProcess.startTls(
            certs, RedisProcess.freePort(false), List.of("--tls-auth-clients", "yes"))) {
      assertThatThrownBy(() -> trusting(certs, () -> RedisStore.builder(strict.uri()).build()))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("cannot connect to Redis at 127.0.0.1:" + strict.port())
          .hasMessageContaining("client certificate")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain("trustStore"));
    }
  }

  @Test
  void untrustedCertificateOnAClusterFailsStartUpSayingHowToTrustIt() {
    try (RedisClusterProcess cluster = RedisClusterProcess.startTls(1, certs)) {
      assertThatThrownBy(() -> RedisStore.builder(cluster.uri()).build())
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("cannot connect to Redis at cluster 127.0.0.1:")
          .hasMessageContaining("javax.net.ssl.trustStore");
      assertThatThrownBy(
              () -> RedisStore.builder(cluster.uri().replace("rediss-", "redis-")).build())
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("use rediss://");
    }
  }

  @Test
  void certificateForAnotherHostIsRefusedUnlessVerifyPeerIsCa(@TempDir Path other) {
    TestCertificates named = TestCertificates.create(other, "dns:redis.internal");
    try (RedisProcess server = RedisProcess.startTls(named, RedisProcess.freePort(false), List.of())) {
      assertThatThrownBy(() -> trusting(named, () -> RedisStore.builder(server.uri()).build()))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("127.0.0.1:" + server.port());
      try (RedisStore store =
          trusting(named, () -> RedisStore.builder(server.uri() + "?verifyPeer=CA").build())) {
        assertWorks(store);
      }
    }
  }

  @Test
  void providerBuildsATlsStoreFromTheUriSetting() {
    StoreProvider provider =
        ServiceLoader.load(StoreProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(p -> p.name().equals("redis"))
            .findFirst()
            .orElseThrow();
    StoreSettings settings =
        new StoreSettings(redis.uri(), null, null, null, false, Duration.ofSeconds(30));
    try (IdempotencyStore store = trusting(certs, () -> provider.create(settings))) {
      assertWorks(store);
    }
  }

  @Test
  void sameStoreReconnectsOverTlsAfterRedisRestarts() {
    try (RedisProcess restarted =
            RedisProcess.startTls(certs, RedisProcess.freePort(false), List.of());
        RedisStore store = trusting(certs, () -> RedisStore.builder(restarted.uri()).build())) {
      assertWorks(store);
      restarted.kill();
      restarted.restart();
      String key = key();
      trusting(
          certs,
          () -> {
            await()
                .atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20))
                .ignoreExceptionsInstanceOf(StoreException.class)
                .until(() -> store.acquire(key, "h", LOCK, RETENTION)
                    instanceof Acquisition.Acquired);
            return null;
          });
    }
  }

  @Test
  void clusterOverTlsTrustingThePrivateCa() {
    try (RedisClusterProcess cluster = RedisClusterProcess.startTls(3, certs);
        RedisStore store = trusting(certs, () -> RedisStore.builder(cluster.uri()).build())) {
      assertThat(cluster.uri()).startsWith("rediss-cluster://");
      for (int i = 0; i < 20; i++) {
        assertWorks(store); // keys on every master
      }
    }
  }

  @Test
  void verifyPeerNoneInAClusterUriReachesEveryNode() {
    try (RedisClusterProcess cluster = RedisClusterProcess.startTls(3, certs);
        RedisStore store = RedisStore.builder(cluster.uri() + "?verifyPeer=NONE").build()) {
      for (int i = 0; i < 20; i++) {
        assertWorks(store);
      }
    }
  }
}
