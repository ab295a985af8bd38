package org.rlhfstream.deploy;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code rlhf up}: the all-in-one mode. */
@Command(name = "up", mixinStandardHelpOptions = true,
    description = "Start Kafka (embedded unless --bootstrap-servers is given) and every service; run until Ctrl-C.")
public final class UpCommand implements Callable<Integer> {

  @Mixin ConfigOptions configOptions;
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException {
    RlhfConfig config = configOptions.load();
    AllInOne all = AllInOne.start(config, java.util.EnumSet.allOf(AllInOne.Service.class), true);
    PrintWriter out = spec.commandLine().getOut();
    out.println("rlhf-stream is up:");
    all.endpoints().forEach(line -> out.println("  " + line));
    out.println("Press Ctrl-C to stop.");
    out.flush();
    ShutdownSignal.awaitThenClose(all);
    return RlhfCommand.EXIT_OK;
  }
}
