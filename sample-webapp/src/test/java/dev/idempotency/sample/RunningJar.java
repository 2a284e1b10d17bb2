package dev.idempotency.sample;

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
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;

/**
 * {@code java -jar target/sample-webapp.jar} as a child process, its output (stdout and stderr
 * together) collected line by line. Not thread-safe; one per test.
 */
final class RunningJar implements AutoCloseable {

  private static final Pattern LISTENING =
      Pattern.compile("sample-webapp: listening on (http://localhost:\\d+/)api/orders");

  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();

  private RunningJar(Process process) {
    this.process = process;
    Thread reader = new Thread(this::collect, "sample-jar-output");
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts the jar with JVM options {@code -D...} and extra environment variables. */
  static RunningJar start(List<String> systemProperties, Map<String, String> environment)
      throws IOException {
    Path jar = Path.of(System.getProperty("sample.jar", "target/sample-webapp.jar"));
    assertThat(jar).as("run `mvn verify`: the jar is built in the package phase").isRegularFile();
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(systemProperties);
    command.add("-jar");
    command.add(jar.toAbsolutePath().toString());
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().keySet().removeIf(name -> name.startsWith("IDEMPOTENCY_"));
    builder.environment().remove("PORT");
    builder.environment().putAll(environment);
    return new RunningJar(builder.start());
  }

  /** Waits for the "listening on" line and answers a client for that address. */
  Http1Client awaitListening() {
    String base =
        Awaitility.await("the jar prints its address; output so far: " + output)
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(50))
            .until(this::address, address -> address != null);
    return new Http1Client(URI.create(base.replace("localhost", "127.0.0.1")));
  }

  /** Waits for the process to exit and answers its exit code. */
  int awaitExit() throws InterruptedException {
    assertThat(process.waitFor(60, TimeUnit.SECONDS))
        .as("the jar exits; output so far: " + output).isTrue();
    // the reader may still hold the last lines
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !readerBehind());
    return process.exitValue();
  }

  List<String> output() {
    return List.copyOf(output);
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
    }
  }

  private volatile boolean done;

  private boolean readerBehind() {
    return !done;
  }

  private String address() {
    for (String line : output) {
      Matcher m = LISTENING.matcher(line);
      if (m.find()) {
        return m.group(1);
      }
    }
    if (!process.isAlive() && done) {
      throw new AssertionError("the jar exited with " + process.exitValue() + ": " + output);
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
    } finally {
      done = true;
    }
  }
}
