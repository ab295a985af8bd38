package org.rlhfstream.deploy;

import java.util.EnumSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code rlhf reward}: the reward service alone, against an external Kafka. */
@Command(name = "reward", mixinStandardHelpOptions = true,
    description = "Run the reward service alone (continuous reward-model training, releases, /v1/scores) against --bootstrap-servers.")
public final class RewardCommand implements Callable<Integer> {

  @Mixin ConfigOptions configOptions;
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException {
    RlhfConfig config = configOptions.load();
    if (!config.reward().enabled()) {
      throw new UserError("reward.enabled is false: nothing to run");
    }
    return AllInOne.serve(spec.commandLine().getOut(), "rlhf reward", config, EnumSet.of(AllInOne.Service.REWARD), false);
  }
}
