package org.rlhfstream.deploy;

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
    return AllInOne.serve(spec.commandLine().getOut(), "rlhf-stream", config, java.util.EnumSet.allOf(AllInOne.Service.class), true);
  }
}
