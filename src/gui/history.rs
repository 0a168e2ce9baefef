//! Undo and redo for the session's edits (labels, segments, notes, settlements): a history of
//! commands, each of which knows how to do and undo itself. The window's commands record the
//! reviewed state before and after (it is small: a call's segments and labels), so undoing an
//! edit restores exactly what was saved before it, files included.

/// An edit that can be applied and reverted on a target `T`.
pub trait Command<T> {
    /// Error when applying fails (a file could not be written): the history is then unchanged.
    type Error;
    fn apply(&self, target: &mut T) -> Result<(), Self::Error>;
    fn revert(&self, target: &mut T) -> Result<(), Self::Error>;
    /// What the Edit menu says ("Undo split").
    fn describe(&self) -> String;
}

/// The commands done and undone in this session.
#[derive(Debug)]
pub struct History<C> {
    done: Vec<C>,
    undone: Vec<C>,
}

impl<C> Default for History<C> {
    fn default() -> Self {
        Self { done: Vec::new(), undone: Vec::new() }
    }
}

impl<C> History<C> {
    /// Applies `command` and records it; a new edit clears what could be redone.
    pub fn execute<T>(&mut self, command: C, target: &mut T) -> Result<(), C::Error>
    where
        C: Command<T>,
    {
        command.apply(target)?;
        self.record(command);
        Ok(())
    }

    /// Records a command that has already been applied.
    pub fn record(&mut self, command: C) {
        self.done.push(command);
        self.undone.clear();
    }

    /// Reverts the last command; `Ok(None)` when there is nothing to undo.
    pub fn undo<T>(&mut self, target: &mut T) -> Result<Option<&C>, C::Error>
    where
        C: Command<T>,
    {
        let Some(command) = self.done.pop() else { return Ok(None) };
        if let Err(error) = command.revert(target) {
            self.done.push(command);
            return Err(error);
        }
        self.undone.push(command);
        Ok(self.undone.last())
    }

    /// Applies the last undone command again; `Ok(None)` when there is nothing to redo.
    pub fn redo<T>(&mut self, target: &mut T) -> Result<Option<&C>, C::Error>
    where
        C: Command<T>,
    {
        let Some(command) = self.undone.pop() else { return Ok(None) };
        if let Err(error) = command.apply(target) {
            self.undone.push(command);
            return Err(error);
        }
        self.done.push(command);
        Ok(self.done.last())
    }

    pub fn can_undo(&self) -> bool {
        !self.done.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.undone.is_empty()
    }

    pub fn next_undo(&self) -> Option<&C> {
        self.done.last()
    }

    pub fn next_redo(&self) -> Option<&C> {
        self.undone.last()
    }

    /// How many commands can be undone.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Forgets everything (another call was opened).
    pub fn clear(&mut self) {
        self.done.clear();
        self.undone.clear();
    }
}

/// The simplest command: the target's state before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<S> {
    pub before: S,
    pub after: S,
    pub description: String,
}

impl<S: Clone> Command<S> for Snapshot<S> {
    type Error = std::convert::Infallible;
    fn apply(&self, target: &mut S) -> Result<(), Self::Error> {
        *target = self.after.clone();
        Ok(())
    }
    fn revert(&self, target: &mut S) -> Result<(), Self::Error> {
        *target = self.before.clone();
        Ok(())
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds to a counter; fails when asked to go below zero (a save that fails).
    struct Add(i32);

    impl Command<i32> for Add {
        type Error = String;
        fn apply(&self, target: &mut i32) -> Result<(), String> {
            if *target + self.0 < 0 {
                return Err("below zero".into());
            }
            *target += self.0;
            Ok(())
        }
        fn revert(&self, target: &mut i32) -> Result<(), String> {
            if *target - self.0 < 0 {
                return Err("below zero".into());
            }
            *target -= self.0;
            Ok(())
        }
        fn describe(&self) -> String {
            format!("add {}", self.0)
        }
    }

    #[test]
    fn undo_and_redo_walk_the_history_and_a_new_edit_clears_the_redo_list() {
        let mut history = History::default();
        let mut value = 0;
        history.execute(Add(1), &mut value).unwrap();
        history.execute(Add(10), &mut value).unwrap();
        assert_eq!(value, 11);
        assert_eq!(history.undo(&mut value).unwrap().map(Command::describe), Some("add 10".into()));
        assert_eq!(value, 1);
        assert!(history.can_redo());
        history.redo(&mut value).unwrap();
        assert_eq!(value, 11);
        history.undo(&mut value).unwrap();
        history.undo(&mut value).unwrap();
        assert_eq!(value, 0);
        assert!(history.undo(&mut value).unwrap().is_none(), "nothing left to undo");
        history.redo(&mut value).unwrap();
        history.execute(Add(100), &mut value).unwrap();
        assert_eq!(value, 101);
        assert!(!history.can_redo(), "a new edit clears the redo list");
        assert_eq!(history.len(), 2);
    }

    #[test]
    fn a_failed_edit_leaves_the_history_unchanged() {
        let mut history = History::default();
        let mut value = 5;
        assert!(history.execute(Add(-10), &mut value).is_err());
        assert!(history.is_empty());
        history.execute(Add(3), &mut value).unwrap();
        value = 1; // something else moved the target: undoing would go below zero
        assert!(history.undo(&mut value).is_err());
        assert!(history.can_undo(), "the command stays to be undone later");
        assert_eq!(value, 1);
    }

    #[test]
    fn snapshots_restore_the_state_before_and_after() {
        let mut history = History::default();
        let mut state = vec![1, 2];
        let command = Snapshot { before: state.clone(), after: vec![1, 2, 3], description: "add".into() };
        history.execute(command, &mut state).unwrap();
        assert_eq!(state, [1, 2, 3]);
        history.undo(&mut state).unwrap();
        assert_eq!(state, [1, 2]);
        history.redo(&mut state).unwrap();
        assert_eq!(state, [1, 2, 3]);
    }
}
