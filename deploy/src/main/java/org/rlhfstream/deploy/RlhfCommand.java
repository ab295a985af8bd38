package org.rlhfstream.deploy;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code rlhf} command line. Each subcommand is one class; this one only lists them.
 *
 * <p>Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad configuration.
 */
@Command(
    name = "rlhf",
    mixinStandardHelpOptions = true,
    versionProvider = RlhfCommand.Version.class,
    description = "Reactive streaming RLHF: feedback ingest, reward modelling, PPO + LoRA over Kafka.",
    subcommands = {
      UpCommand.class,
      IngestCommand.class,
      KafkaCommand.class,
      RewardCommand.class,
      GenerateCommand.class,
      ScoreCommand.class,
      BenchCommand.class,
      DoctorCommand.class,
      CommandLine.HelpCommand.class,
    })
public final class RlhfCommand implements Runnable {

  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILURE = 1;
  public static final int EXIT_USAGE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    // Everything DJL needs is on the classpath; never try to download at run time.
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    // Every command that touches PyTorch uses the native bridge when one is installed
    // (RLHF_NATIVE=auto|required|off); doctor and bench gpu decide with their own --native flag.
    if (java.util.Arrays.stream(args).noneMatch(a -> a.startsWith("--native"))) {
      try {
        String mode = System.getenv("RLHF_NATIVE");
        org.rlhfstream.model.nativeops.NativeBridge.configure(
            org.rlhfstream.model.nativeops.NativeBridge.Mode.parse(mode == null || mode.isBlank() ? "auto" : mode));
      } catch (RuntimeException e) {
        System.err.println("rlhf: " + e.getMessage());
        System.exit(EXIT_USAGE);
      }
    }
    System.exit(execute(args));
  }

  /** Runs the command line without exiting the JVM. */
  public static int execute(String... args) {
    return newCommandLine().execute(args);
  }

  /** Runs the command line with its output and errors captured (tests call this). */
  public static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
    CommandLine cli = newCommandLine();
    cli.setOut(out);
    cli.setErr(err);
    int code = cli.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  static CommandLine newCommandLine() {
    CommandLine cli = new CommandLine(new RlhfCommand());
    cli.setCaseInsensitiveEnumValuesAllowed(true);
    cli.setExecutionExceptionHandler(new CliErrors());
    cli.setExitCodeExceptionMapper(CliErrors::exitCode);
    return cli;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = RlhfCommand.class.getPackage().getImplementationVersion();
      return new String[] {"rlhf " + (v == null ? "development build" : v)};
    }
  }
}
