//! Faults and restarts of a running [`Stack`]: one service or replica stopped, killed, frozen
//! or started again; the broker and Postgres stopped and started on their data.

use std::time::Duration;

use crate::{GATEWAY, Signal, Stack, StepError, broker, postgres, process, step_error};

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
        let env = self.service_env(&service, port);
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

    /// Starts (or restarts, keeping its data) the private broker.
    pub async fn start_broker(&mut self) -> Result<(), StepError> {
        let broker = broker::start(
            &self.options.data_dir.join("broker"),
            self.options.broker_port,
            &self.options.logs_dir().join("broker.log"),
        )
        .await?;
        self.broker = Some(broker);
        Ok(())
    }

    /// `kill -9` the broker, as a crash would.
    pub async fn kill_broker(&mut self) {
        if let Some(mut broker) = self.broker.take() {
            broker
                .stop_with(Signal::SIGKILL, Duration::from_secs(10))
                .await;
        }
    }

    /// `kill -9` one service, as a crash would (restart it with [`Stack::restart_service`]).
    pub async fn kill_service(&mut self, name: &str) {
        if let Some(service) = self.services.iter_mut().find(|s| s.name == name) {
            service
                .stop_with(Signal::SIGKILL, Duration::from_secs(10))
                .await;
        }
    }

    /// Stops the private broker, as an outage would (see [`broker::stop`] for how).
    pub async fn stop_broker(&mut self) {
        if let Some(mut broker) = self.broker.take() {
            broker::stop(&mut broker).await;
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
