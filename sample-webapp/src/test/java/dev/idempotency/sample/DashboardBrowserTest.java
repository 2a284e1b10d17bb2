package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.File;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard at {@code /} in a real browser: Debian's headless Chromium, driven through
 * {@code /usr/bin/chromedriver}, watches the counts change while requests arrive over HTTP.
 * Leaves a screenshot at {@code target/dashboard.png}.
 */
class DashboardBrowserTest {

  private static final String ORDER = "{\"item\":\"book\",\"quantity\":1}";
  private static final Duration PAGE_WAIT = Duration.ofSeconds(15);

  private SampleServer sample;
  private Path profile;
  private ChromeDriver browser;

  @BeforeEach
  void start() throws Exception {
    sample = SampleServer.start(Map.of());
    profile = Files.createTempDirectory("chromium-profile");
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File("/usr/bin/chromedriver"))
        .usingAnyFreePort()
        .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary("/usr/bin/chromium");
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--user-data-dir=" + profile, "--window-size=1280,860");
    browser = new ChromeDriver(service, options);
  }

  @AfterEach
  void stop() throws Exception {
    if (browser != null) {
      browser.quit();
    }
    if (sample != null) {
      sample.close();
    }
    try (Stream<Path> files = Files.walk(profile)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }

  private HttpResponse<String> order(String key, String body) throws Exception {
    return sample.http.post("/api/orders", JSON, body, "Idempotency-Key", key);
  }

  private void awaitCount(WebDriverWait wait, String outcome, long count) {
    wait.until(ExpectedConditions.textToBe(By.id("outcome-" + outcome), String.valueOf(count)));
  }

  @Test
  void countsOnThePageFollowRequestsSentOverHttp() throws Exception {
    WebDriverWait wait = new WebDriverWait(browser, PAGE_WAIT);
    browser.get(sample.base().resolve("/").toString());
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("status"), "updated"));
    awaitCount(wait, "executed", 0);
    assertThat(browser.findElement(By.id("store-name")).getText()).isEqualTo("memory");
    assertThat(browser.findElement(By.id("store-serving")).getText()).isEqualTo("memory");
    assertThat(browser.findElement(By.id("store-breaker")).getText())
        .isEqualTo("n/a (no breaker)");

    String key = UUID.randomUUID().toString();
    order(key, ORDER);
    awaitCount(wait, "executed", 1);
    awaitCount(wait, "replayed", 0);
    sample.awaitCompletes(1);

    order(key, ORDER);
    order(key, ORDER);
    order(key, "{\"item\":\"pen\",\"quantity\":1}");
    awaitCount(wait, "replayed", 2);
    awaitCount(wait, "mismatch", 1);
    awaitCount(wait, "executed", 1);
    WebElement acquire = wait.until(
        ExpectedConditions.presenceOfElementLocated(By.id("latency-memory-acquire")));
    wait.until(d -> acquire.findElements(By.tagName("td")).get(2).getText().equals("4"));
  }

  /** A mix of traffic, then a picture of the page once it shows all of it. */
  @Test
  void screenshotWithRealTraffic() throws Exception {
    WebDriverWait wait = new WebDriverWait(browser, PAGE_WAIT);
    browser.get(sample.base().resolve("/").toString());
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("status"), "updated"));

    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      String key = UUID.randomUUID().toString();
      keys.add(key);
      assertThat(order(key, "{\"item\":\"book\",\"quantity\":" + (i + 1) + "}").statusCode())
          .isEqualTo(201);
    }
    sample.awaitCompletes(40);
    for (int i = 0; i < 25; i++) {
      String key = keys.get(i);
      order(key, "{\"item\":\"book\",\"quantity\":" + (i + 1) + "}");
    }
    for (int i = 0; i < 3; i++) {
      order(keys.get(i), "{\"item\":\"lamp\",\"quantity\":1}");
    }
    order("", ORDER);
    order("k".repeat(300), ORDER);
    sample.http.post("/api/echo", "multipart/form-data; boundary=b", "--b--\r\n",
        "Idempotency-Key", UUID.randomUUID().toString());
    String slow = UUID.randomUUID().toString();
    CompletableFuture<HttpResponse<String>> running = sample.http.postAsync(
        "/api/orders?delayMs=2000", JSON, ORDER, "Idempotency-Key", slow);
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
        .until(() -> sample.metrics().get("idempotency_inflight"), v -> v == 1);
    for (int i = 0; i < 2; i++) {
      assertThat(sample.http.post("/api/orders?delayMs=2000", JSON, ORDER,
          "Idempotency-Key", slow).statusCode()).isEqualTo(409);
    }
    assertThat(running.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    // keyless: protected by its content fingerprint
    sample.http.post("/api/orders", JSON, "{\"item\":\"mug\",\"quantity\":2}");

    awaitCount(wait, "executed", 42);
    awaitCount(wait, "replayed", 25);
    awaitCount(wait, "mismatch", 3);
    awaitCount(wait, "invalid", 2);
    awaitCount(wait, "conflict", 2);
    awaitCount(wait, "bypassed", 1);
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("latency-memory-complete")));

    Path shot = browser.getScreenshotAs(OutputType.FILE).toPath();
    Path target = Path.of("target", "dashboard.png");
    Files.createDirectories(target.getParent());
    Files.copy(shot, target, StandardCopyOption.REPLACE_EXISTING);
    assertThat(Files.size(target)).isPositive();
  }
}
