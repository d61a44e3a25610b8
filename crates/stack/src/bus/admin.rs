//! Two of Kafka's admin requests that rust-rdkafka does not wrap: `AlterUserScramCredentials`
//! (a principal's password) and `CreateAcls`. librdkafka has both (`rdkafka.h`); this module
//! calls them through `rdkafka-sys`, which rust-rdkafka re-exports as `rdkafka::bindings`.
//!
//! It is the workspace's only unsafe code, and it is the launcher's, never a service's. The
//! alternative was Kafka's own tools, a JVM each: two dozen of them, about a minute, at every
//! stack start (each end-to-end test starts one). Every pointer below is made, used and freed
//! within one function; the request runs on a queue of our own, polled until its one result.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::producer::{BaseProducer, Producer};

/// One ACL: `principal` may do `operation` on the topic or group `name` (literal name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acl {
    pub principal: String,
    pub resource: Resource,
    pub name: String,
    pub operation: Operation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    Topic,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Read,
    Write,
    Describe,
}

/// How long one admin request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the brokers that `config` describes, for admin requests.
pub struct Admin {
    producer: BaseProducer,
}

impl Admin {
    pub fn new(config: &rdkafka::ClientConfig) -> Result<Self, String> {
        let producer = config.create().map_err(|e| e.to_string())?;
        Ok(Self { producer })
    }

    /// Sets each `(user, password)` as a SCRAM-SHA-512 credential (made, or replaced).
    pub fn set_passwords(&self, users: &[(String, String)]) -> Result<(), String> {
        let names: Vec<CString> = users
            .iter()
            .map(|(u, _)| c_string(u))
            .collect::<Result<_, _>>()?;
        // SAFETY: each alteration copies the strings it is given; the array is freed below.
        let mut alterations: Vec<*mut rd::rd_kafka_UserScramCredentialAlteration_t> = names
            .iter()
            .zip(users)
            .map(|(name, (_, password))| unsafe {
                rd::rd_kafka_UserScramCredentialUpsertion_new(
                    name.as_ptr(),
                    rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_512,
                    8192,
                    password.as_ptr(),
                    password.len(),
                    ptr::null(),
                    0,
                )
            })
            .collect();
        let outcome = self.request(
            |rk, queue| unsafe {
                rd::rd_kafka_AlterUserScramCredentials(
                    rk,
                    alterations.as_mut_ptr(),
                    alterations.len(),
                    ptr::null_mut(),
                    queue,
                );
            },
            |event| unsafe {
                let result = rd::rd_kafka_event_AlterUserScramCredentials_result(event);
                let mut count = 0;
                let responses =
                    rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &mut count);
                (0..count)
                    .map(|i| {
                        error_of(
                            rd::rd_kafka_AlterUserScramCredentials_result_response_error(
                                *responses.add(i),
                            ),
                        )
                    })
                    .collect::<Result<Vec<()>, String>>()
                    .map(|_| ())
            },
        );
        unsafe {
            rd::rd_kafka_UserScramCredentialAlteration_destroy_array(
                alterations.as_mut_ptr(),
                alterations.len(),
            );
        }
        outcome
    }

    /// Creates `acls` (each an ALLOW from any host). Creating one that exists changes nothing.
    pub fn allow(&self, acls: &[Acl]) -> Result<(), String> {
        let mut bindings = Vec::with_capacity(acls.len());
        let made = acls.iter().try_for_each(|acl| {
            bindings.push(binding(acl)?);
            Ok::<(), String>(())
        });
        let outcome = made.and_then(|()| {
            self.request(
                |rk, queue| unsafe {
                    rd::rd_kafka_CreateAcls(
                        rk,
                        bindings.as_mut_ptr(),
                        bindings.len(),
                        ptr::null_mut(),
                        queue,
                    );
                },
                |event| unsafe {
                    let result = rd::rd_kafka_event_CreateAcls_result(event);
                    let mut count = 0;
                    let results = rd::rd_kafka_CreateAcls_result_acls(result, &mut count);
                    (0..count)
                        .map(|i| error_of(rd::rd_kafka_acl_result_error(*results.add(i))))
                        .collect::<Result<Vec<()>, String>>()
                        .map(|_| ())
                },
            )
        });
        unsafe { rd::rd_kafka_AclBinding_destroy_array(bindings.as_mut_ptr(), bindings.len()) };
        outcome
    }

    /// Sends one admin request (`send` gets the client and a queue of our own for its result),
    /// waits for its result event and reads it with `read`, while the event and its queue
    /// live; the request's own error, if it failed as a whole.
    fn request<T>(
        &self,
        send: impl FnOnce(*mut rd::rd_kafka_t, *mut rd::rd_kafka_queue_t),
        read: impl FnOnce(*mut rd::rd_kafka_event_t) -> Result<T, String>,
    ) -> Result<T, String> {
        let rk = self.producer.client().native_ptr();
        let queue = Queue(unsafe { rd::rd_kafka_queue_new(rk) });
        send(rk, queue.0);
        let event = Event(unsafe { rd::rd_kafka_queue_poll(queue.0, TIMEOUT.as_millis() as i32) });
        if event.0.is_null() {
            return Err(format!(
                "no answer from the brokers within {}s",
                TIMEOUT.as_secs()
            ));
        }
        let code = unsafe { rd::rd_kafka_event_error(event.0) };
        if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let why = unsafe {
                format!(
                    "{}: {}",
                    text(rd::rd_kafka_err2name(code)),
                    text(rd::rd_kafka_event_error_string(event.0))
                )
            };
            return Err(why);
        }
        read(event.0)
    }

    /// Waits until what was sent has been answered (nothing here is produced; for symmetry
    /// with the other clients' shutdown).
    pub fn close(self) {
        let _ = self.producer.flush(Duration::from_secs(1));
    }
}

/// An ACL binding for `acl`, or librdkafka's reason it is invalid.
fn binding(acl: &Acl) -> Result<*mut rd::rd_kafka_AclBinding_t, String> {
    let name = c_string(&acl.name)?;
    let principal = c_string(&format!("User:{}", acl.principal))?;
    let host = c_string("*")?;
    let mut errstr = [0 as c_char; 256];
    let resource = match acl.resource {
        Resource::Topic => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
        Resource::Group => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_GROUP,
    };
    let operation = match acl.operation {
        Operation::Read => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_READ,
        Operation::Write => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_WRITE,
        Operation::Describe => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_DESCRIBE,
    };
    // SAFETY: the strings are copied into the binding; errstr is a buffer of the size given.
    let binding = unsafe {
        rd::rd_kafka_AclBinding_new(
            resource,
            name.as_ptr(),
            rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
            principal.as_ptr(),
            host.as_ptr(),
            operation,
            rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if binding.is_null() {
        Err(unsafe { text(errstr.as_ptr()) })
    } else {
        Ok(binding)
    }
}

fn c_string(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{s:?} holds a NUL byte"))
}

/// `Ok` for no error (a null one, or one whose code says none: librdkafka answers either for a
/// success, depending on the request), its name and text otherwise.
unsafe fn error_of(error: *const rd::rd_kafka_error_t) -> Result<(), String> {
    let code = if error.is_null() {
        rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    } else {
        unsafe { rd::rd_kafka_error_code(error) }
    };
    if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        Ok(())
    } else {
        let code = unsafe { rd::rd_kafka_err2name(code) };
        Err(unsafe { format!("{}: {}", text(code), text(rd::rd_kafka_error_string(error))) })
    }
}

/// A C string librdkafka owns, copied.
unsafe fn text(s: *const c_char) -> String {
    if s.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
    }
}

/// A queue of our own, destroyed when dropped.
struct Queue(*mut rd::rd_kafka_queue_t);

impl Drop for Queue {
    fn drop(&mut self) {
        unsafe { rd::rd_kafka_queue_destroy(self.0) };
    }
}

/// A result event, destroyed when dropped (what it points to goes with it).
struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { rd::rd_kafka_event_destroy(self.0) };
        }
    }
}
