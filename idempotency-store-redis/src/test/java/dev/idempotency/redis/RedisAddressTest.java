package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisURI;
import io.lettuce.core.SslVerifyMode;
import org.junit.jupiter.api.Test;

class RedisAddressTest {

  @Test
  void standaloneUriWithPasswordAndDatabase() {
    RedisAddress address = RedisAddress.parse("redis://:pw@10.1.2.3:6380/2");
    assertThat(address.cluster()).isFalse();
    RedisURI uri = address.uris().get(0);
    assertThat(uri.getHost()).isEqualTo("10.1.2.3");
    assertThat(uri.getPort()).isEqualTo(6380);
    assertThat(uri.getDatabase()).isEqualTo(2);
    assertThat(new String(uri.getPassword())).isEqualTo("pw");
    assertThat(address.toString()).isEqualTo("10.1.2.3:6380").doesNotContain("pw");
  }

  @Test
  void tlsUri() {
    assertThat(RedisAddress.parse("rediss://cache:6379").uris().get(0).isSsl()).isTrue();
  }

  @Test
  void clusterUriWithSeedsAndPassword() {
    RedisAddress address = RedisAddress.parse("redis-cluster://user:p%40ss@a:7000, b:7001,c");
    assertThat(address.cluster()).isTrue();
    assertThat(address.uris())
        .extracting(RedisURI::getHost, RedisURI::getPort)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("a", 7000),
            org.assertj.core.groups.Tuple.tuple("b", 7001),
            org.assertj.core.groups.Tuple.tuple("c", 6379));
    assertThat(address.uris().get(1).getUsername()).isEqualTo("user");
    assertThat(new String(address.uris().get(2).getPassword())).isEqualTo("p@ss");
    assertThat(address.toString()).isEqualTo("cluster a:7000,b:7001,c:6379");
  }

  @Test
  void clusterUriKeepsItsOptionsForEverySeed() {
    RedisAddress address =
        RedisAddress.parse("rediss-cluster://:pw@a:7000,b:7001?verifyPeer=NONE&clientName=app");
    assertThat(address.uris())
        .extracting(RedisURI::getHost, RedisURI::isSsl, RedisURI::getVerifyMode,
            RedisURI::getClientName)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("a", true, SslVerifyMode.NONE, "app"),
            org.assertj.core.groups.Tuple.tuple("b", true, SslVerifyMode.NONE, "app"));
    assertThat(new String(address.uris().get(1).getPassword())).isEqualTo("pw");
    assertThat(RedisAddress.parse("rediss-cluster://a:7000").uris().get(0).getVerifyMode())
        .isEqualTo(SslVerifyMode.FULL);
  }

  @Test
  void standaloneTlsUriKeepsVerifyPeer() {
    assertThat(RedisAddress.parse("rediss://cache:6379?verifyPeer=CA").uris().get(0)
            .getVerifyMode())
        .isEqualTo(SslVerifyMode.CA);
  }

  @Test
  void commaListOfSeedsIsACluster() {
    RedisAddress address = RedisAddress.parse("redis://a:7000,b:7001,rediss://c:7002");
    assertThat(address.cluster()).isTrue();
    assertThat(address.uris()).extracting(RedisURI::getHost).containsExactly("a", "b", "c");
    assertThat(address.uris().get(2).isSsl()).isTrue();
  }

  @Test
  void bareHostAndPortIsStandalone() {
    RedisAddress address = RedisAddress.parse("localhost:6390");
    assertThat(address.cluster()).isFalse();
    assertThat(address.uris().get(0).getPort()).isEqualTo(6390);
  }

  @Test
  void aPortThatIsNotANumberIsRefused() {
    assertThatThrownBy(() -> RedisAddress.parse("redis://:s3cret@127.0.0.1:notaport"))
        .hasMessageContaining("idempotency.redis.uri")
        .hasMessageContaining("the port is not a number")
        .hasMessageNotContaining("s3cret");
    assertThatThrownBy(() -> RedisAddress.parse("127.0.0.1:abc"))
        .hasMessageContaining("the port is not a number");
    assertThat(RedisAddress.parse("redis://[::1]:6390").uris().get(0).getPort()).isEqualTo(6390);
  }

  @Test
  void badValuesNameTheSettingButNotThePassword() {
    assertThatThrownBy(() -> RedisAddress.parse(" "))
        .hasMessageContaining("idempotency.redis.uri");
    assertThatThrownBy(() -> RedisAddress.parse("redis-cluster://:secret@"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idempotency.redis.uri")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("secret"));
  }

  @Test
  void aPasswordThatWasNotPercentEncodedIsNotShownInTheError() {
    for (String uri : new String[] {
        "redis://:Right#1pw@127.0.0.1:21011",
        "redis://:Wr/ongpw@127.0.0.1:21011",
        "redis://:p@ss/Wrongpw@127.0.0.1:21011",
        "redis://:Wr ongpw@127.0.0.1:21011"}) {
      assertThatThrownBy(() -> RedisAddress.parse(uri))
          .as(uri)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("idempotency.redis.uri")
          .hasMessageContaining("127.0.0.1:21011")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain("pw").doesNotContain("Right")
              .doesNotContain("ss/").doesNotContain("Wr"))
          .satisfies(e -> assertThat(e.getCause()).isNull());
    }
  }
}
