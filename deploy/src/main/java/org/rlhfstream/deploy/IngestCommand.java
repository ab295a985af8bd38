package org.rlhfstream.deploy;

import java.util.EnumSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code rlhf ingest}: only the ingest service, against an existing Kafka. */
@Command(name = "ingest", mixinStandardHelpOptions = true,
    description = "Run only the ingest service (HTTP and gRPC front door for labeling apps) against --bootstrap-servers.")
public final class IngestCommand implements Callable<Integer> {

  @Mixin ConfigOptions configOptions;
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    RlhfConfig config = configOptions.load();
    // No embedded broker here: without --bootstrap-servers this is a usage error naming the flag.
    return AllInOne.serve(spec.commandLine().getOut(), "rlhf ingest", config, EnumSet.of(AllInOne.Service.INGEST), false);
  }
}
