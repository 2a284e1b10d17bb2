package dev.idempotency.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * CPU time of processes from Linux's {@code /proc/<pid>/stat} (user + system, in clock ticks
 * of 10 ms). Stateless.
 */
final class ProcCpu {

  private static final long NANOS_PER_TICK = 10_000_000L;

  private ProcCpu() {}

  /** CPU nanoseconds of {@code pid} so far; -1 if it cannot be read. */
  static long of(long pid) {
    try {
      return ticks(Files.readString(Path.of("/proc", Long.toString(pid), "stat")))
          * NANOS_PER_TICK;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU nanoseconds so far of the JIT compiler threads ({@code C1/C2 CompilerThread*}) of the JVM
   * {@code pid}; 0 if they cannot be read.
   */
  static long compilerThreads(long pid) {
    long total = 0;
    Path taskDir = Path.of("/proc", Long.toString(pid), "task");
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(taskDir)) {
      for (Path task : tasks) {
        try {
          if (Files.readString(task.resolve("comm")).contains("CompilerThre")) {
            total += ticks(Files.readString(task.resolve("stat"))) * NANOS_PER_TICK;
          }
        } catch (IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
    } catch (IOException | RuntimeException e) {
      return 0;
    }
    return total;
  }

  /** CPU nanoseconds of each of {@code pids} that could be read. */
  static Map<Long, Long> of(List<Long> pids) {
    Map<Long, Long> cpu = new HashMap<>();
    for (long pid : pids) {
      long nanos = of(pid);
      if (nanos >= 0) {
        cpu.put(pid, nanos);
      }
    }
    return cpu;
  }

  /** CPU spent between two readings by the processes alive at both. */
  static long delta(Map<Long, Long> before, Map<Long, Long> after) {
    long total = 0;
    for (Map.Entry<Long, Long> process : after.entrySet()) {
      Long earlier = before.get(process.getKey());
      if (earlier != null) {
        total += process.getValue() - earlier;
      }
    }
    return total;
  }

  /** utime + stime: fields 14 and 15, counted after the parenthesised command name. */
  private static long ticks(String stat) {
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
  }
}
