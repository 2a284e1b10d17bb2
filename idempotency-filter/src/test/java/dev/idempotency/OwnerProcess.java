package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * Another JVM serving the filter, for tests that kill an owner as a crash would: {@link #main}
 * runs embedded Jetty with the filter as {@code web.xml} builds it (its settings, the store
 * included, from the system properties it was started with) in front of a {@link TestApp}, and
 * prints {@code listening <port>}, then {@code entered} each time a held handler starts. The
 * test side starts it from the test classpath and reads its output. Not thread-safe.
 */
public final class OwnerProcess implements AutoCloseable {

  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();

  private OwnerProcess(Process process) {
    this.process = process;
    Thread reader = new Thread(this::collect, "owner-process-output");
    reader.setDaemon(true);
    reader.start();
  }

  public static void main(String[] args) throws Exception {
    TestApp app = new TestApp();
    JettyServer server = JettyServer.start(new IdempotencyFilter(), app);
    System.out.println("listening " + server.uri("/").getPort());
    while (true) {
      CountDownLatch entered = app.entered;
      entered.await();
      app.entered = new CountDownLatch(1);
      System.out.println("entered");
    }
  }

  /** Starts a JVM on this JVM's classpath with {@code -D} options for each property. */
  public static OwnerProcess start(Map<String, String> systemProperties) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xshare:auto");
    command.add("-XX:TieredStopAtLevel=1");
    systemProperties.forEach((name, value) -> command.add("-D" + name + "=" + value));
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(OwnerProcess.class.getName());
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().keySet().removeIf(name -> name.startsWith("IDEMPOTENCY_"));
    return new OwnerProcess(builder.start());
  }

  /** The address it listens on, once it says so. */
  public URI awaitListening() {
    String port = Awaitility.await("the owner process listens; output so far: " + output)
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> lineAfter("listening "), found -> found != null);
    return URI.create("http://127.0.0.1:" + port);
  }

  /** Waits until {@code count} held handlers have started. */
  public void awaitEntered(int count) {
    Awaitility.await("a held handler starts; output so far: " + output)
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(10))
        .until(() -> output.stream().filter(line -> line.equals("entered")).count() >= count);
  }

  /** SIGKILL: no shutdown hook, no release, no socket closed politely. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
  }

  public List<String> output() {
    return List.copyOf(output);
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }

  private String lineAfter(String prefix) {
    for (String line : output) {
      if (line.startsWith(prefix)) {
        return line.substring(prefix.length());
      }
    }
    if (!process.isAlive()) {
      throw new AssertionError("the owner process exited with " + process.exitValue() + ": "
          + output);
    }
    return null;
  }

  private void collect() {
    try (BufferedReader in = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        output.add(line);
      }
    } catch (IOException e) {
      output.add("<output lost: " + e + ">");
    }
  }
}
