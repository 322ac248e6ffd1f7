//! Rekognition (`json` 1.1) dispatch: `POST /` with
//! `X-Amz-Target: RekognitionService.<Operation>`, answered by the faces
//! engine's own AWS JSON entry point ([`crate::faces::Engine::call`]).
//!
//! Takes in the target header and the body; gives out the JSON response or
//! an [`ApiError`]. The engine is shared by every request: searches run in
//! parallel, writes to one collection are serialised (and on disk, fsynced,
//! before the response).

use std::path::Path;

use serde_json::Value;

use super::errors::ApiError;
use crate::faces::{Engine, Operation};
use crate::AwsError;

/// The `X-Amz-Target` prefix of Rekognition.
pub const TARGET_PREFIX: &str = "RekognitionService.";

/// The operation an `X-Amz-Target` names, or the `UnknownOperationException`
/// AWS answers for a missing or unknown one.
pub fn operation(target: Option<&str>) -> Result<&'static str, ApiError> {
    let Some(target) = target else {
        return Err(ApiError::unknown_operation(
            "missing X-Amz-Target header; expected RekognitionService.<Operation>",
        ));
    };
    let name = target.strip_prefix(TARGET_PREFIX).ok_or_else(|| {
        ApiError::unknown_operation(format!(
            "X-Amz-Target '{}': expected RekognitionService.<Operation>",
            target.chars().take(100).collect::<String>()
        ))
    })?;
    Operation::from_aws_name(name)
        .map(Operation::aws_name)
        .ok_or_else(|| {
            ApiError::unknown_operation(format!(
                "operation '{}' is not served; these are: {}",
                name.chars().take(100).collect::<String>(),
                Operation::names()
            ))
        })
}

/// The Rekognition side of the server.
pub struct RekognitionState {
    engine: Engine,
}

impl std::fmt::Debug for RekognitionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekognitionState").finish_non_exhaustive()
    }
}

impl RekognitionState {
    /// Opens the Rekognition part of a data directory, reading photos with
    /// the models in `models` (or where they are by default).
    pub fn open(data_dir: &Path, models: Option<&Path>) -> Result<RekognitionState, AwsError> {
        let engine = Engine::open(data_dir)?;
        Ok(RekognitionState {
            engine: match models {
                Some(dir) => engine.with_models_dir(dir),
                None => engine,
            },
        })
    }

    /// Runs one operation on its JSON body.
    pub fn call(&self, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::serialization(format!("request body is not UTF-8: {e}")))?;
        let text = if text.trim().is_empty() { "{}" } else { text };
        // A body that is not JSON at all is a SerializationException before
        // any operation sees it.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err(ApiError::serialization(format!(
                "request body is not valid JSON: {e}"
            )));
        }
        Ok(self.engine.call(operation, text).map_err(AwsError::from)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_served_operations_only() {
        assert_eq!(
            operation(Some("RekognitionService.SearchUsers")).unwrap(),
            "SearchUsers"
        );
        assert_eq!(
            operation(None).unwrap_err().code,
            "UnknownOperationException"
        );
        assert_eq!(
            operation(Some("RekognitionService.DetectLabels"))
                .unwrap_err()
                .code,
            "UnknownOperationException"
        );
    }
}
