package dev.idempotency.sample;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** A real HTTP/1.1 client for one server under test. Thread-safe. */
final class Http1Client {

  static final String JSON = "application/json";
  static final String FORM = "application/x-www-form-urlencoded";

  private final URI base;
  private final HttpClient client =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  Http1Client(URI base) {
    this.base = base;
  }

  URI base() {
    return base;
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return client.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  /** GET with {@code headers} given as name, value, name, value... */
  HttpResponse<String> get(String path, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder builder = request(path).GET();
    for (int i = 0; i < headers.length; i += 2) {
      builder.header(headers[i], headers[i + 1]);
    }
    return client.send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** POST with {@code headers} given as name, value, name, value... */
  HttpResponse<String> post(String path, String contentType, String body, String... headers)
      throws IOException, InterruptedException {
    return client.send(postRequest(path, contentType, body, headers),
        HttpResponse.BodyHandlers.ofString());
  }

  CompletableFuture<HttpResponse<String>> postAsync(String path, String contentType, String body,
      String... headers) {
    return client.sendAsync(postRequest(path, contentType, body, headers),
        HttpResponse.BodyHandlers.ofString());
  }

  long executions() throws IOException, InterruptedException {
    HttpResponse<String> response = get("/api/executions");
    if (response.statusCode() != 200) {
      throw new AssertionError("GET /api/executions answered " + response.statusCode());
    }
    return Long.parseLong(response.body().replaceAll("[^0-9]", ""));
  }

  private HttpRequest postRequest(String path, String contentType, String body,
      String... headers) {
    HttpRequest.Builder builder =
        request(path).POST(HttpRequest.BodyPublishers.ofString(body));
    if (contentType != null) {
      builder.header("Content-Type", contentType);
    }
    for (int i = 0; i < headers.length; i += 2) {
      builder.header(headers[i], headers[i + 1]);
    }
    return builder.build();
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(30));
  }
}
