//! Where the brokers are and who this process is to them.

use std::fmt;
use std::str::FromStr;

use rdkafka::ClientConfig;

use crate::settings::{SettingsError, note, string, var};

/// The brokers and this process's credential for them: every Kafka client of the process is
/// made from one `Brokers` ([`super::producer`], [`super::consumer`], [`super::admin`]), so no
/// client can connect as anyone else, or without signing in when the others do.
///
/// From the environment:
/// - `KAFKA_BROKERS`: the bootstrap list.
/// - `KAFKA_USERNAME`, `KAFKA_PASSWORD`: this service's own principal (SASL). On the local
///   stack and in Kubernetes the username is the service's name, and the broker's ACLs allow
///   it only what `contracts::access` says.
/// - `KAFKA_SECURITY_PROTOCOL`: `plaintext`, `sasl_plaintext` (the default when a username is
///   set), `ssl` or `sasl_ssl` (Event Hubs, any broker across a network you do not own).
/// - `KAFKA_SASL_MECHANISM`: `SCRAM-SHA-512` (default), `SCRAM-SHA-256`, or `PLAIN` (Event
///   Hubs' connection strings; only ever over TLS).
/// - `KAFKA_CA_FILE`: the certificate authority the brokers' TLS certificates are checked
///   against (PEM), when it is not one the system trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct Brokers {
    /// `host:port,host:port`.
    pub bootstrap: String,
    pub protocol: Protocol,
    /// Who signs in, over a `sasl_*` protocol.
    pub sasl: Option<Sasl>,
    pub ca_file: Option<String>,
}

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Plaintext,
    SaslPlaintext,
    Ssl,
    SaslSsl,
}

/// A SASL credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: String,
}

/// The SASL mechanisms the clients are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    ScramSha512,
    ScramSha256,
    Plain,
}

impl Brokers {
    /// Brokers that take anyone, unauthenticated (a broker of your own with no listener
    /// security; never the local stack's or Kubernetes').
    pub fn plaintext(bootstrap: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_owned(),
            protocol: Protocol::Plaintext,
            sasl: None,
            ca_file: None,
        }
    }

    /// Brokers signed in to as `username` with SCRAM-SHA-512 over plain TCP: the local stack.
    pub fn scram(bootstrap: &str, username: &str, password: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_owned(),
            protocol: Protocol::SaslPlaintext,
            sasl: Some(Sasl {
                mechanism: Mechanism::ScramSha512,
                username: username.to_owned(),
                password: password.to_owned(),
            }),
            ca_file: None,
        }
    }

    /// The same brokers, signed in to as someone else (the launcher hands each service its
    /// own principal).
    pub fn as_user(&self, username: &str, password: &str) -> Self {
        let mechanism = self
            .sasl
            .as_ref()
            .map_or(Mechanism::ScramSha512, |s| s.mechanism);
        Self {
            sasl: Some(Sasl {
                mechanism,
                username: username.to_owned(),
                password: password.to_owned(),
            }),
            protocol: match self.protocol {
                Protocol::Ssl | Protocol::SaslSsl => Protocol::SaslSsl,
                Protocol::Plaintext | Protocol::SaslPlaintext => Protocol::SaslPlaintext,
            },
            ..self.clone()
        }
    }

    /// `KAFKA_BROKERS` and the credential variables (see [`Brokers`]), `default` when
    /// `KAFKA_BROKERS` is unset.
    pub fn from_env(default: &str) -> Result<Self, SettingsError> {
        let bootstrap = string("KAFKA_BROKERS", default);
        let username = string("KAFKA_USERNAME", "");
        note("KAFKA_PASSWORD");
        let password = std::env::var("KAFKA_PASSWORD").unwrap_or_default();
        let signs_in = !username.is_empty();
        let default_protocol = if signs_in {
            Protocol::SaslPlaintext
        } else {
            Protocol::Plaintext
        };
        let protocol: Protocol = var("KAFKA_SECURITY_PROTOCOL", default_protocol)?;
        let mechanism: Mechanism = var("KAFKA_SASL_MECHANISM", Mechanism::ScramSha512)?;
        let ca_file = Some(string("KAFKA_CA_FILE", "")).filter(|f| !f.is_empty());
        if signs_in && password.is_empty() {
            return Err(SettingsError {
                name: "KAFKA_PASSWORD".into(),
                value: String::new(),
                reason: "KAFKA_USERNAME is set: its password must be too".into(),
            });
        }
        let sasl = match (protocol.is_sasl(), signs_in) {
            (true, true) => Some(Sasl {
                mechanism,
                username,
                password,
            }),
            (false, false) => None,
            (true, false) => return Err(invalid("KAFKA_USERNAME", "", protocol)),
            (false, true) => {
                return Err(invalid(
                    "KAFKA_SECURITY_PROTOCOL",
                    protocol.as_str(),
                    protocol,
                ));
            }
        };
        if mechanism == Mechanism::Plain && protocol == Protocol::SaslPlaintext {
            return Err(SettingsError {
                name: "KAFKA_SASL_MECHANISM".into(),
                value: "PLAIN".into(),
                reason: "PLAIN sends the password itself: only over sasl_ssl".into(),
            });
        }
        Ok(Self {
            bootstrap,
            protocol,
            sasl,
            ca_file,
        })
    }

    /// Sets the bootstrap list and the security settings on `config`.
    pub fn configure(&self, config: &mut ClientConfig) {
        for (key, value) in self.librdkafka_settings() {
            config.set(key, value);
        }
    }

    /// The bootstrap list and the security settings as librdkafka names them: what
    /// [`Brokers::configure`] sets, and what kcat takes as `-X key=value`.
    pub fn librdkafka_settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![
            ("bootstrap.servers", self.bootstrap.clone()),
            ("security.protocol", self.protocol.as_str().to_owned()),
        ];
        if let Some(sasl) = &self.sasl {
            settings.push(("sasl.mechanisms", sasl.mechanism.as_str().to_owned()));
            settings.push(("sasl.username", sasl.username.clone()));
            settings.push(("sasl.password", sasl.password.clone()));
        }
        if let Some(ca) = &self.ca_file {
            settings.push(("ssl.ca.location", ca.clone()));
        }
        settings
    }

    /// The environment [`Brokers::from_env`] reads these brokers and this credential back from:
    /// what the launcher gives each service, and what `./dev test` exports for the tests.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("KAFKA_BROKERS", self.bootstrap.clone()),
            ("KAFKA_SECURITY_PROTOCOL", self.protocol.as_str().to_owned()),
        ];
        if let Some(sasl) = &self.sasl {
            env.push(("KAFKA_USERNAME", sasl.username.clone()));
            env.push(("KAFKA_PASSWORD", sasl.password.clone()));
            env.push(("KAFKA_SASL_MECHANISM", sasl.mechanism.as_str().to_owned()));
        }
        if let Some(ca) = &self.ca_file {
            env.push(("KAFKA_CA_FILE", ca.clone()));
        }
        env
    }

    /// Who this process is to the brokers: its username, or `anonymous`.
    pub fn principal(&self) -> &str {
        self.sasl.as_ref().map_or("anonymous", |s| &s.username)
    }

    /// The settings a Java client (Kafka's own tools, `--command-config`) or librdkafka-based
    /// one (kcat's `-F`) takes from a properties file: the same connection.
    pub fn client_properties(&self) -> String {
        let mut lines = vec![
            format!("bootstrap.servers={}", self.bootstrap),
            format!(
                "security.protocol={}",
                self.protocol.as_str().to_uppercase()
            ),
        ];
        if let Some(sasl) = &self.sasl {
            let module = match sasl.mechanism {
                Mechanism::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
                _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
            };
            lines.push(format!("sasl.mechanism={}", sasl.mechanism.as_str()));
            lines.push(format!(
                "sasl.jaas.config={module} required username=\"{}\" password=\"{}\";",
                sasl.username, sasl.password
            ));
        }
        if let Some(ca) = &self.ca_file {
            lines.push("ssl.truststore.type=PEM".to_owned());
            lines.push(format!("ssl.truststore.location={ca}"));
        }
        lines.join("\n") + "\n"
    }
}

fn invalid(name: &str, value: &str, protocol: Protocol) -> SettingsError {
    let reason = if protocol.is_sasl() {
        format!(
            "KAFKA_SECURITY_PROTOCOL={} needs KAFKA_USERNAME and KAFKA_PASSWORD",
            protocol.as_str()
        )
    } else {
        format!(
            "KAFKA_USERNAME is set, but KAFKA_SECURITY_PROTOCOL={} does not sign in: use \
             sasl_plaintext or sasl_ssl",
            protocol.as_str()
        )
    };
    SettingsError {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    }
}

/// The password never shows: settings are logged at startup.
impl fmt::Debug for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Brokers")
            .field("bootstrap", &self.bootstrap)
            .field("protocol", &self.protocol)
            .field("principal", &self.principal())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Sasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The bootstrap list, as people write it.
impl fmt::Display for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.bootstrap)
    }
}

impl Protocol {
    fn is_sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Plaintext => "plaintext",
            Protocol::SaslPlaintext => "sasl_plaintext",
            Protocol::Ssl => "ssl",
            Protocol::SaslSsl => "sasl_ssl",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Protocol::Plaintext,
            Protocol::SaslPlaintext,
            Protocol::Ssl,
            Protocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| "one of plaintext, sasl_plaintext, ssl, sasl_ssl".to_owned())
    }
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::Plain => "PLAIN",
        }
    }
}

impl FromStr for Mechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Mechanism::ScramSha512,
            Mechanism::ScramSha256,
            Mechanism::Plain,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| "one of SCRAM-SHA-512, SCRAM-SHA-256, PLAIN".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let brokers = Brokers::scram("b:9092", "order", "s3cret-value");
        let shown = format!("{brokers:?} {:?}", brokers.sasl);
        assert!(!shown.contains("s3cret-value"), "{shown}");
        assert!(shown.contains("order"), "{shown}");
    }

    #[test]
    fn another_principal_keeps_the_brokers_and_their_transport() {
        let admin = Brokers {
            protocol: Protocol::SaslSsl,
            ca_file: Some("/ca.pem".into()),
            ..Brokers::scram("b:9093", "admin", "a")
        };
        let order = admin.as_user("order", "o");
        assert_eq!(order.bootstrap, "b:9093");
        assert_eq!(order.protocol, Protocol::SaslSsl);
        assert_eq!(order.principal(), "order");
        assert_eq!(order.ca_file.as_deref(), Some("/ca.pem"));
        let props = order.client_properties();
        assert!(props.contains("security.protocol=SASL_SSL\n"), "{props}");
        assert!(
            props.contains("ScramLoginModule required username=\"order\" password=\"o\";"),
            "{props}"
        );
    }
}
