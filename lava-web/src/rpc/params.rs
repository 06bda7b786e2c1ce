//! Reading XML-RPC arguments, which come from Python as whatever the user
//! typed: job ids as strings or integers, `None` as `<nil/>`, missing
//! trailing arguments as absent.

use dxr::{Fault, Value};
use lava_scheduler::model::JobNumber;

/// A method's arguments.
pub(super) struct Params<'a> {
    pub method: &'a str,
    pub values: Vec<Value>,
}

fn bad(method: &str, index: usize, name: &str, why: &str) -> Fault {
    Fault::new(
        400,
        format!("{method}: argument {} ({name}) {why}", index + 1),
    )
}

impl Params<'_> {
    fn get(&self, index: usize) -> Option<&Value> {
        match self.values.get(index) {
            None | Some(Value::Nil) => None,
            Some(v) => Some(v),
        }
    }

    /// A required string.
    pub fn string(&self, index: usize, name: &str) -> Result<String, Fault> {
        self.opt_string(index, name)?
            .ok_or_else(|| bad(self.method, index, name, "is required"))
    }

    /// An optional string (numbers are accepted as their text).
    pub fn opt_string(&self, index: usize, name: &str) -> Result<Option<String>, Fault> {
        match self.get(index) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Integer(i)) => Ok(Some(i.to_string())),
            Some(Value::Long(i)) => Ok(Some(i.to_string())),
            Some(_) => Err(bad(self.method, index, name, "must be a string")),
        }
    }

    /// An optional integer (strings of digits are accepted).
    pub fn opt_int(&self, index: usize, name: &str) -> Result<Option<i64>, Fault> {
        match self.get(index) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(i64::from(*i))),
            Some(Value::Long(i)) => Ok(Some(*i)),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| bad(self.method, index, name, "must be an integer")),
            Some(_) => Err(bad(self.method, index, name, "must be an integer")),
        }
    }

    /// A job id, an integer or its text (lavacli sends argv as is), or a
    /// multinode sub_id `N.M` (LAVA's `get_by_job_number`).
    pub fn job_id(&self, index: usize) -> Result<JobNumber, Fault> {
        let text = self.string(index, "job id")?;
        text.parse()
            .map_err(|_| Fault::new(404, format!("Job '{text}' was not found.")))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, index: usize, name: &str) -> Result<Option<bool>, Fault> {
        match self.get(index) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(Value::Integer(i)) => Ok(Some(*i != 0)),
            Some(_) => Err(bad(self.method, index, name, "must be a boolean")),
        }
    }
}
