//! Repeated `--flag value` arguments.

use age::secrecy::SecretString;

pub struct Args(Vec<(String, String)>);

impl Args {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument `{a}`\n\n{}", super::USAGE))?;
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            out.push((name.to_string(), v.clone()));
        }
        Ok(Self(out))
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }
    pub fn one(&self, name: &str) -> Result<&str, String> {
        match self.all(name).as_slice() {
            [v] => Ok(v),
            [] => Err(format!("missing --{name}\n\n{}", super::USAGE)),
            _ => Err(format!("--{name} given more than once")),
        }
    }
    pub fn number(&self, name: &str) -> Result<usize, String> {
        self.one(name)?
            .parse()
            .map_err(|_| format!("--{name} takes a number"))
    }
    pub fn custodians(&self) -> Result<Vec<(String, SecretString)>, String> {
        self.passfiles("custodian")
    }
    pub fn passfiles(&self, name: &str) -> Result<Vec<(String, SecretString)>, String> {
        let v: Vec<_> = self
            .all(name)
            .into_iter()
            .map(super::read_passfile)
            .collect::<Result<_, _>>()?;
        if v.is_empty() {
            return Err(format!("no --{name} NAME=PASSFILE given"));
        }
        Ok(v)
    }
}
