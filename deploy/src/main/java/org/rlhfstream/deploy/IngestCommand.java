package org.rlhfstream.deploy;

import java.io.PrintWriter;
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
    if (config.kafka().useEmbedded()) {
      throw new UserError("rlhf ingest needs a running Kafka: give --bootstrap-servers HOST:PORT "
          + "(or set kafka.bootstrap-servers), or use `rlhf up` for everything in one process");
    }
    AllInOne.ensureTopics(config.kafka(), config);
    ServiceHost services = ServiceHost.startIngest(config, config.kafka());
    PrintWriter out = spec.commandLine().getOut();
    out.println("rlhf ingest is up (Kafka at " + config.kafka().bootstrapServers() + "):");
    services.endpoints().forEach(line -> out.println("  " + line));
    out.println("Press Ctrl-C to stop.");
    out.flush();
    ShutdownSignal.awaitThenClose(services);
    return RlhfCommand.EXIT_OK;
  }
}
