//! Scripted AI generators: deterministic fakes that return prepared results in order.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::{
    Error, GeneratedImage, GeneratedText, ImageGenerator, ImageTask, Result, TextGenerator,
    TextTask,
};

/// A [`TextGenerator`] returning scripted results in order and recording every task.
///
/// When the script runs out, calls fail with [`Error::Other`] ("script exhausted").
///
/// ```
/// use quflux_core::memory::ScriptedTextGenerator;
/// use quflux_core::{Error, GeneratedText, TextGenerator, TextTask};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ai = ScriptedTextGenerator::new([
///     Ok(GeneratedText { items: vec!["Hello!".into()], model: "script".into() }),
///     Err(Error::transient("ai", "overloaded")),
/// ]);
/// let task = TextTask::Ideas { topic: "rust".into(), audience: "devs".into() };
/// assert_eq!(ai.generate_text(&task).await.unwrap().items, ["Hello!"]);
/// assert!(ai.generate_text(&task).await.unwrap_err().is_retryable());
/// assert_eq!(ai.tasks().len(), 2);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct ScriptedTextGenerator {
    state: Mutex<Script<GeneratedText, TextTask>>,
}

/// A [`ImageGenerator`] returning scripted results in order and recording every task.
///
/// When the script runs out, calls fail with [`Error::Other`] ("script exhausted").
#[derive(Debug, Default)]
pub struct ScriptedImageGenerator {
    state: Mutex<Script<GeneratedImage, ImageTask>>,
}

#[derive(Debug)]
struct Script<T, Task> {
    results: VecDeque<Result<T>>,
    tasks: Vec<Task>,
}

impl<T, Task> Default for Script<T, Task> {
    fn default() -> Self {
        Self {
            results: VecDeque::new(),
            tasks: Vec::new(),
        }
    }
}

impl<T, Task: Clone> Script<T, Task> {
    fn next(&mut self, task: &Task, service: &'static str) -> Result<T> {
        self.tasks.push(task.clone());
        self.results
            .pop_front()
            .unwrap_or_else(|| Err(Error::other(service, "script exhausted")))
    }
}

impl ScriptedTextGenerator {
    /// A generator that returns `script`'s results in order.
    pub fn new(script: impl IntoIterator<Item = Result<GeneratedText>>) -> Self {
        Self {
            state: Mutex::new(Script {
                results: script.into_iter().collect(),
                tasks: Vec::new(),
            }),
        }
    }

    /// Appends a result to the script.
    pub fn push(&self, result: Result<GeneratedText>) {
        lock(&self.state).results.push_back(result);
    }

    /// Every task received, in order.
    pub fn tasks(&self) -> Vec<TextTask> {
        lock(&self.state).tasks.clone()
    }

    /// Results not yet returned.
    pub fn remaining(&self) -> usize {
        lock(&self.state).results.len()
    }
}

impl ScriptedImageGenerator {
    /// A generator that returns `script`'s results in order.
    pub fn new(script: impl IntoIterator<Item = Result<GeneratedImage>>) -> Self {
        Self {
            state: Mutex::new(Script {
                results: script.into_iter().collect(),
                tasks: Vec::new(),
            }),
        }
    }

    /// Appends a result to the script.
    pub fn push(&self, result: Result<GeneratedImage>) {
        lock(&self.state).results.push_back(result);
    }

    /// Every task received, in order.
    pub fn tasks(&self) -> Vec<ImageTask> {
        lock(&self.state).tasks.clone()
    }

    /// Results not yet returned.
    pub fn remaining(&self) -> usize {
        lock(&self.state).results.len()
    }
}

#[async_trait]
impl TextGenerator for ScriptedTextGenerator {
    async fn generate_text(&self, task: &TextTask) -> Result<GeneratedText> {
        lock(&self.state).next(task, "scripted_text_generator")
    }
}

#[async_trait]
impl ImageGenerator for ScriptedImageGenerator {
    async fn generate_image(&self, task: &ImageTask) -> Result<GeneratedImage> {
        lock(&self.state).next(task, "scripted_image_generator")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn image_script_runs_in_order_then_is_exhausted() {
        let image = GeneratedImage {
            bytes: bytes::Bytes::from_static(b"png"),
            content_type: "image/png".into(),
            width: 1,
            height: 1,
            model: "script".into(),
        };
        let ai = ScriptedImageGenerator::new([Ok(image.clone())]);
        let task = ImageTask::Generate {
            prompt: "cat".into(),
            style: "realistic".into(),
            width: 1,
            height: 1,
        };
        assert_eq!(ai.generate_image(&task).await.unwrap(), image);
        assert_eq!(ai.remaining(), 0);
        assert_eq!(
            ai.generate_image(&task).await.unwrap_err().kind(),
            crate::ErrorKind::Other
        );
        assert_eq!(ai.tasks(), vec![task.clone(), task]);
    }
}
