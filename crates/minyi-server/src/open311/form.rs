//! `application/x-www-form-urlencoded` parameters (query strings and POST bodies) as Open311
//! reads them: an empty value is the same as an absent parameter, a single-valued parameter given
//! twice is an error, and `attribute[code]` / `attribute[code][]` carry service attributes.

use super::Fail;

/// Decodes one form component: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(raw: &str) -> Result<String, Fail> {
    let bad = || {
        Fail::bad_request(
            "参数编码错误（须为 UTF-8 的 URL 编码）",
            "a parameter is not valid URL-encoded UTF-8",
        )
    };
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// The parameters of a query string or form body, in order.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `a=1&b=2`.
    pub fn parse(input: &str) -> Result<Self, Fail> {
        let mut pairs = Vec::new();
        for part in input.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Params { pairs })
    }

    /// The decoded `(name, value)` pairs, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Adds the parameters of `other` after these.
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// A single-valued parameter, trimmed; empty counts as absent.
    pub fn get(&self, name: &str) -> Result<Option<&str>, Fail> {
        let mut found = self
            .pairs
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim());
        let first = found.next();
        if found.next().is_some() {
            return Err(Fail::bad_request(
                format!("参数 {name} 只能出现一次"),
                format!("the parameter {name} may be given only once"),
            ));
        }
        Ok(first)
    }

    /// A comma-separated list parameter, without empty items.
    pub fn list(&self, name: &str) -> Result<Vec<&str>, Fail> {
        Ok(self
            .get(name)?
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The `attribute[code]` (single) and `attribute[code][]` (multi) values, by code, in order
    /// of first appearance; empty values are dropped.
    pub fn attributes(&self) -> Result<Vec<(String, bool, Vec<String>)>, Fail> {
        let mut out: Vec<(String, bool, Vec<String>)> = Vec::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix("attribute[") else {
                continue;
            };
            let (code, multi) = if let Some(code) = rest.strip_suffix("][]") {
                (code, true)
            } else if let Some(code) = rest.strip_suffix(']') {
                (code, false)
            } else {
                return Err(Fail::bad_request(
                    format!("属性参数名 {k} 格式错误"),
                    format!("the attribute parameter {k} is malformed; use attribute[code]"),
                ));
            };
            let value = v.trim();
            match out.iter_mut().find(|(c, _, _)| c == code) {
                Some((_, was_multi, values)) => {
                    if *was_multi != multi || !multi {
                        return Err(Fail::bad_request(
                            format!("属性 {code} 只能出现一次"),
                            format!("the attribute {code} may be given only once"),
                        ));
                    }
                    if !value.is_empty() {
                        values.push(value.to_string());
                    }
                }
                None => {
                    let values = if value.is_empty() {
                        Vec::new()
                    } else {
                        vec![value.to_string()]
                    };
                    out.push((code.to_string(), multi, values));
                }
            }
        }
        out.retain(|(_, _, values)| !values.is_empty());
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_and_treats_empty_as_absent() {
        let p =
            Params::parse("a=%E5%B8%82+x&b=&attribute%5Bk%5D%5B%5D=1&attribute[k][]=2").unwrap();
        assert_eq!(p.get("a").unwrap(), Some("市 x"));
        assert_eq!(p.get("b").unwrap(), None);
        assert_eq!(
            p.attributes().unwrap(),
            vec![(
                "k".to_string(),
                true,
                vec!["1".to_string(), "2".to_string()]
            )]
        );
        assert!(Params::parse("a=%E5").is_err());
        assert!(Params::parse("a=1&a=2").unwrap().get("a").is_err());
    }
}
