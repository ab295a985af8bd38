package org.rlhfstream.deploy;

import java.io.PrintWriter;
import org.rlhfstream.platform.config.ConfigException;
import picocli.CommandLine;

/**
 * Turns failures into one clear message on stderr and an exit code, instead of a stack trace.
 * {@link UserError} and {@link ConfigException} are the user's to fix (exit 2); anything else
 * is ours (exit 1, with the stack trace when {@code RLHF_DEBUG} is set).
 */
final class CliErrors implements CommandLine.IExecutionExceptionHandler {

  @Override
  public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
    PrintWriter err = cli.getErr();
    err.println("rlhf " + cli.getCommandName() + ": " + messageOf(e));
    if (System.getenv("RLHF_DEBUG") != null && exitCode(e) == RlhfCommand.EXIT_FAILURE) {
      e.printStackTrace(err);
    }
    err.flush();
    return exitCode(e);
  }

  static int exitCode(Throwable e) {
    return e instanceof UserError || e instanceof ConfigException || e instanceof CommandLine.ParameterException
        ? RlhfCommand.EXIT_USAGE
        : RlhfCommand.EXIT_FAILURE;
  }

  private static String messageOf(Throwable e) {
    String m = e.getMessage();
    if (e instanceof UserError || e instanceof ConfigException) {
      return m;
    }
    return (m == null ? e.getClass().getSimpleName() : m) + " (set RLHF_DEBUG=1 for the stack trace)";
  }
}
