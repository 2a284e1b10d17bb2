package dev.idempotency.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the lines {@link HttpLoad} and {@link Floor} wrote in one run into the Markdown tables of
 * {@code docs/BENCHMARKS.md}: every row with its ratio to the no-filter row of the same kind and
 * clients, the targets of issue 7 at 32 clients, the floor, and the latency each store adds at
 * one client next to its round trips. {@code java -cp benchmarks.jar
 * dev.idempotency.bench.Report results.tsv}. Stateless.
 */
public final class Report {

  private static final Map<String, Double> FIRST_TARGETS =
      Map.of("memory", 0.9, "redis", 0.75, "jdbc", 0.5);

  private record Row(String label, String kind, int clients, int requests, double rps,
      double p50, double p99, int errors, double evalsha, double commits, double serverCpu,
      double generatorCpu, double redisCpu, double postgresCpu) {
    String id() {
      return label + "/" + kind + "/" + clients;
    }
  }

  private Report() {}

  public static void main(String[] args) throws Exception {
    Map<String, Row> rows = new LinkedHashMap<>();
    for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split("\t");
      Row row = new Row(f[0], f[1], Integer.parseInt(f[2]), Integer.parseInt(f[3]),
          Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7]),
          Integer.parseInt(f[8]), Double.parseDouble(f[9]), Double.parseDouble(f[10]),
          Double.parseDouble(f[11]), Double.parseDouble(f[12]), Double.parseDouble(f[13]),
          Double.parseDouble(f[14]));
      rows.put(row.id(), row);
    }
    StringBuilder out = new StringBuilder();
    out.append("| store | requests | clients | req/s | p50 µs | p99 µs | × no filter | target "
        + "| ceiling × | EVALSHA/req | PG commits/req | CPU µs/req: server | generator | Redis "
        + "| PostgreSQL | errors |\n");
    out.append("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    List<Row> http = new ArrayList<>();
    for (Row row : rows.values()) {
      if (!row.label.equals("floor")) {
        http.add(row);
      }
    }
    http.sort((a, b) -> a.kind.equals(b.kind)
        ? Integer.compare(a.clients, b.clients) : a.kind.compareTo(b.kind));
    for (Row row : http) {
      Row base = rows.get("none/" + row.kind + "/" + row.clients);
      double ratio = base == null ? Double.NaN : row.rps / base.rps;
      out.append(String.format(Locale.ROOT,
          "| %s | %s | %d | %,.0f | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s "
              + "| %d |%n",
          row.label.equals("none") ? "no filter" : "`" + row.label + "`",
          row.kind.equals("first") ? "first (new key)" : "replay (one key)", row.clients,
          row.rps, row.p50, row.p99, row.label.equals("none") ? "1.00" : fmt(ratio, "%.2f"),
          target(row, ratio), ceiling(row, base), fmt(row.evalsha, "%.2f"),
          fmt(row.commits, "≈%.1f"),
          fmt(row.serverCpu, "%.0f"), fmt(row.generatorCpu, "%.0f"),
          fmt(row.redisCpu, "%.0f"), fmt(row.postgresCpu, "%.0f"), row.errors));
    }

    out.append("\nFloor (same machine, one JVM, the stores' own clients):\n\n");
    out.append("| round trip | clients | ops/s | p50 µs | p99 µs |\n|---|---:|---:|---:|---:|\n");
    for (Row row : rows.values()) {
      if (row.label.equals("floor")) {
        out.append(String.format(Locale.ROOT, "| %s | %d | %,.0f | %.0f | %.0f |%n", row.kind,
            row.clients, row.rps, row.p50, row.p99));
      }
    }

    Row redisFloor = rows.get("floor/redis SET NX PX/1");
    Row pgFloor = rows.get("floor/postgresql SELECT 1/1");
    out.append("\nAdded latency at 1 client (p50 of the row − p50 of no filter), next to the "
        + "floor round trip (p50 at 1 client):\n\n");
    out.append("| store | requests | added p50 µs | Redis round trips (EVALSHA/req) | "
        + "Redis floor µs | PostgreSQL floor µs |\n|---|---|---:|---:|---:|---:|\n");
    for (Row row : http) {
      if (row.clients != 1 || row.label.equals("none")) {
        continue;
      }
      Row base = rows.get("none/" + row.kind + "/1");
      if (base == null) {
        continue;
      }
      out.append(String.format(Locale.ROOT, "| `%s` | %s | %.0f | %s | %s | %s |%n", row.label,
          row.kind, row.p50 - base.p50, fmt(row.evalsha, "%.2f"),
          redisFloor == null ? "—" : fmt(redisFloor.p50, "%.0f"),
          pgFloor == null ? "—" : fmt(pgFloor.p50, "%.0f")));
    }
    System.out.print(out);
  }

  /**
   * At 32 clients every process is CPU-bound on the machine's cores, so throughput goes as one
   * over the CPU all processes spend per request. The ceiling is the ratio a row would reach if
   * the server and the generator spent no more CPU per request than without the filter, and only
   * Redis's and PostgreSQL's own CPU were added: what the store's server alone leaves.
   */
  private static String ceiling(Row row, Row base) {
    if (row.clients != 32 || row.label.equals("none") || base == null) {
      return "";
    }
    double baseCpu = base.serverCpu + base.generatorCpu + base.redisCpu + base.postgresCpu;
    double storeCpu = row.redisCpu - base.redisCpu + row.postgresCpu - base.postgresCpu;
    return fmt(baseCpu / (baseCpu + Math.max(0, storeCpu)), "%.2f");
  }

  private static String target(Row row, double ratio) {
    if (row.clients != 32 || row.label.equals("none")) {
      return "";
    }
    Double target = row.kind.equals("replay") ? Double.valueOf(1.0) : FIRST_TARGETS.get(row.label);
    if (target == null) {
      return "";
    }
    return String.format(Locale.ROOT, "≥ %.2f %s", target, ratio >= target ? "met" : "**missed**");
  }

  private static String fmt(double value, String format) {
    return Double.isNaN(value) ? "—" : String.format(Locale.ROOT, format, value);
  }
}
