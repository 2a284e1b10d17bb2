package dev.idempotency.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * A private CA and a server certificate it signed, made at test time with the {@code keytool} of
 * the JDK running the test (no openssl needed), as the PEM files {@code redis-server} reads and a
 * PKCS12 trust store holding the CA, as a user would hand to {@code javax.net.ssl.trustStore}.
 * The server certificate is valid for 127.0.0.1 and localhost unless other names are given.
 *
 * <p>Immutable once made; the files live in the directory given.
 */
public final class TestCertificates {

  /** The password of {@link #trustStore()} and of the key stores keytool works on. */
  public static final String PASSWORD = "changeit";

  private final Path caPem;
  private final Path certPem;
  private final Path keyPem;
  private final Path trustStore;

  private TestCertificates(Path dir) {
    this.caPem = dir.resolve("ca.pem");
    this.certPem = dir.resolve("server.pem");
    this.keyPem = dir.resolve("server.key");
    this.trustStore = dir.resolve("truststore.p12");
  }

  /** A CA and a server certificate for {@code ip:127.0.0.1,dns:localhost}, in {@code dir}. */
  public static TestCertificates create(Path dir) {
    return create(dir, "ip:127.0.0.1,dns:localhost");
  }

  /**
   * A CA and a server certificate whose subject alternative names are {@code san} (keytool's
   * syntax, e.g. {@code dns:redis.internal}), in {@code dir}.
   */
  public static TestCertificates create(Path dir, String san) {
    TestCertificates certs = new TestCertificates(dir);
    Path ca = dir.resolve("ca.p12");
    Path server = dir.resolve("server.p12");
    Path csr = dir.resolve("server.csr");
    keytool("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=idempotency test CA", "-ext", "bc:c", "-validity", "2",
        "-keystore", ca.toString(), "-storetype", "PKCS12");
    keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", ca.toString(),
        "-file", certs.caPem.toString());
    keytool("-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=idempotency test redis", "-validity", "2",
        "-keystore", server.toString(), "-storetype", "PKCS12");
    keytool("-certreq", "-alias", "server", "-keystore", server.toString(),
        "-file", csr.toString());
    // clientAuth too: the nodes of a TLS cluster present it to each other on the bus.
    keytool("-gencert", "-rfc", "-alias", "ca", "-keystore", ca.toString(),
        "-infile", csr.toString(), "-outfile", certs.certPem.toString(), "-validity", "2",
        "-ext", "san=" + san, "-ext", "eku=serverAuth,clientAuth");
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", certs.caPem.toString(),
        "-keystore", certs.trustStore.toString(), "-storetype", "PKCS12");
    try (InputStream in = Files.newInputStream(server)) {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(in, PASSWORD.toCharArray());
      PrivateKey key = (PrivateKey) keys.getKey("server", PASSWORD.toCharArray());
      Files.writeString(certs.keyPem, pem("PRIVATE KEY", key.getEncoded()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    return certs;
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static void keytool(String... args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    command.addAll(List.of(args));
    command.addAll(List.of("-storepass", PASSWORD));
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        process.destroyForcibly();
        throw new IllegalStateException("keytool failed: " + command + "\n" + output);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The CA's certificate, PEM: {@code tls-ca-cert-file}, and what a client trusts. */
  public Path caPem() {
    return caPem;
  }

  /** The server's certificate, PEM, signed by the CA: {@code tls-cert-file}. */
  public Path certPem() {
    return certPem;
  }

  /** The server's private key, unencrypted PKCS#8 PEM: {@code tls-key-file}. */
  public Path keyPem() {
    return keyPem;
  }

  /** A PKCS12 trust store holding only the CA, password {@link #PASSWORD}. */
  public Path trustStore() {
    return trustStore;
  }

  /** Sockets that trust the CA, for the test helpers' own commands. */
  public SSLSocketFactory socketFactory() {
    try (InputStream in = Files.newInputStream(trustStore)) {
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(in, PASSWORD.toCharArray());
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context.getSocketFactory();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
