//! Faults and restarts of a running [`Stack`]: one service or replica stopped, killed, frozen
//! or started again; Kafka (all of it or one node) and Postgres stopped and started on their
//! data; and what a test needs to know to pick its fault (which node leads, which controls).

use std::time::Duration;

use std::collections::BTreeMap;

use crate::{GATEWAY, Signal, Stack, StepError, kafka, postgres, process, step_error};

impl Stack {
    /// Stops one service gracefully (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop_service(&mut self, name: &str) {
        if let Some(service) = self.services.iter_mut().find(|s| s.name == name) {
            service.stop(Duration::from_secs(10)).await;
        }
    }

    /// Starts a stopped service (or replica: `order-2`) again and waits until it is ready.
    pub async fn restart_service(&mut self, name: &str) -> Result<(), StepError> {
        let (service, port) = if name == GATEWAY.0 {
            (GATEWAY.0.to_owned(), self.options.gateway_port)
        } else {
            self.replicas()
                .into_iter()
                .find(|(_, replica, _)| replica == name)
                .map(|(service, _, port)| (service, port))
                .ok_or_else(|| step_error(name, "no such service or replica", None))?
        };
        let env = self.service_env(&service, name, port);
        let logs = self.options.logs_dir();
        let bin_dir = &self.options.bin_dir;
        let mut fresh = process::spawn_service(bin_dir, &service, name, port, env, &logs)?;
        fresh.wait_ready(Duration::from_secs(60)).await?;
        if let Some(slot) = self.services.iter_mut().find(|s| s.name == name) {
            *slot = fresh;
        }
        Ok(())
    }

    /// Sends `signal` to one service (SIGSTOP/SIGCONT freeze and thaw it).
    pub fn signal_service(&self, name: &str, signal: Signal) {
        if let Some(service) = self.service(name) {
            service.signal(signal);
        }
    }

    /// Starts (or restarts, keeping its data) the private Postgres cluster.
    pub async fn start_postgres(&mut self) -> Result<(), StepError> {
        let pg = postgres::Postgres::start(
            &self.options.data_dir.join("postgres"),
            self.options.postgres_port,
            &self.options.logs_dir().join("postgres.log"),
        )
        .await?;
        self.postgres = Some(pg);
        Ok(())
    }

    /// Stops the private Postgres cluster (fast shutdown), as an outage would.
    pub async fn stop_postgres(&mut self) {
        if let Some(mut pg) = self.postgres.take() {
            pg.stop().await;
        }
    }

    /// Starts every Kafka node that is not running (the whole cluster after
    /// [`Stack::stop_broker`] or [`Stack::kill_broker`]) and waits until each is ready.
    pub async fn start_broker(&mut self) -> Result<(), StepError> {
        self.cluster()?.start().await
    }

    /// `kill -9` every Kafka node, as a crash would.
    pub async fn kill_broker(&mut self) {
        if let Ok(cluster) = self.cluster() {
            for id in cluster.node_ids() {
                cluster.kill(id).await;
            }
        }
    }

    /// Stops every Kafka node gracefully, all at once, as an outage or Ctrl-C would.
    pub async fn stop_broker(&mut self) {
        if let Ok(cluster) = self.cluster() {
            cluster.stop().await;
        }
    }

    /// `kill -9` Kafka node `id` (1, 2, 3), as a crash would.
    pub async fn kill_broker_node(&mut self, id: u32) {
        if let Ok(cluster) = self.cluster() {
            cluster.kill(id).await;
        }
    }

    /// Starts Kafka node `id` again on its data and waits until the cluster lists it.
    pub async fn start_broker_node(&mut self, id: u32) -> Result<(), StepError> {
        self.cluster()?.start_node(id).await
    }

    /// How many records the partitions each Kafka node leads hold, among the topics named
    /// `prefix...`: which node the traffic goes through.
    pub async fn broker_records_led(&self, prefix: &str) -> Result<BTreeMap<u32, i64>, StepError> {
        self.running()?.records_led(prefix).await
    }

    /// The Kafka node that is the active controller (the metadata quorum's leader).
    pub async fn active_controller(&self) -> Result<u32, StepError> {
        self.running()?.active_controller().await
    }

    /// Partitions with fewer replicas in sync than they have: a Kafka node still catching up.
    pub async fn under_replicated(&self) -> Result<Vec<String>, StepError> {
        self.running()?.under_replicated().await
    }

    /// Runs Kafka's tool `tool` (see [`kafka::TOOLS`]) against the stack's cluster; its output.
    pub async fn kafka_tool(&self, tool: &str, args: &[&str]) -> Result<String, StepError> {
        self.running()?.tool(tool, args).await
    }

    fn cluster(&mut self) -> Result<&mut kafka::Cluster, StepError> {
        self.kafka.as_mut().ok_or_else(no_cluster)
    }

    fn running(&self) -> Result<&kafka::Cluster, StepError> {
        self.kafka.as_ref().ok_or_else(no_cluster)
    }

    /// `kill -9` one service, as a crash would (restart it with [`Stack::restart_service`]).
    pub async fn kill_service(&mut self, name: &str) {
        if let Some(service) = self.services.iter_mut().find(|s| s.name == name) {
            service
                .stop_with(Signal::SIGKILL, Duration::from_secs(10))
                .await;
        }
    }

    /// Waits up to `within` for a service to exit by itself; its exit status, if it did.
    pub async fn wait_service_exit(&mut self, name: &str, within: Duration) -> Option<String> {
        let service = self.services.iter_mut().find(|s| s.name == name)?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = service.exited() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn no_cluster() -> StepError {
    step_error(
        "kafka",
        "this stack uses the brokers in KAFKA_BROKERS; it runs no Kafka of its own",
        None,
    )
}
