//! Helpers shared by the `json_*` tests: the capturing writer, and a small
//! JSON parser that keeps key order and duplicate keys (a `serde_json` map
//! keeps neither), so tests can check both.

#![allow(dead_code)]

#[path = "../common/capture.rs"]
mod capture;
// Not every test binary that includes this module uses it.
#[allow(unused_imports)]
pub use capture::Capture;

/// A JSON value that keeps its members in order, duplicates included.
/// Numbers keep their text, so `1.0` and `1` differ, as in the output.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
    Str(String),
    Num(String),
    Bool(bool),
    Null,
}

impl J {
    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn keys(&self) -> Vec<&str> {
        match self {
            J::Obj(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn str(&self) -> &str {
        match self {
            J::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<J> {
        match self {
            J::Obj(m) => {
                let i = m.iter().position(|(k, _)| k == key)?;
                Some(m.remove(i).1)
            }
            _ => None,
        }
    }

    /// Every object in the tree has unique keys.
    pub fn keys_unique(&self) -> bool {
        match self {
            J::Obj(m) => {
                let mut seen = std::collections::HashSet::new();
                m.iter()
                    .all(|(k, v)| seen.insert(k.clone()) && v.keys_unique())
            }
            J::Arr(a) => a.iter().all(J::keys_unique),
            _ => true,
        }
    }
}

/// Parses one JSON text, strictly (RFC 8259), or panics saying where.
pub fn parse(text: &str) -> J {
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
        text,
    };
    p.ws();
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing input in {text:?}");
    v
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl P<'_> {
    fn peek(&self) -> u8 {
        *self
            .s
            .get(self.i)
            .unwrap_or_else(|| panic!("unexpected end in {:?}", self.text))
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn eat(&mut self, b: u8) {
        assert_eq!(
            self.peek(),
            b,
            "expected {:?} at {} in {:?}",
            b as char,
            self.i,
            self.text
        );
        self.i += 1;
    }
    fn value(&mut self) -> J {
        match self.peek() {
            b'{' => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.peek() == b'}' {
                    self.i += 1;
                    return J::Obj(m);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.ws();
                    self.eat(b':');
                    self.ws();
                    let v = self.value();
                    m.push((k, v));
                    self.ws();
                    if self.peek() == b',' {
                        self.i += 1;
                    } else {
                        self.eat(b'}');
                        return J::Obj(m);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.peek() == b']' {
                    self.i += 1;
                    return J::Arr(a);
                }
                loop {
                    self.ws();
                    a.push(self.value());
                    self.ws();
                    if self.peek() == b',' {
                        self.i += 1;
                    } else {
                        self.eat(b']');
                        return J::Arr(a);
                    }
                }
            }
            b'"' => J::Str(self.string()),
            b't' => self.lit("true", J::Bool(true)),
            b'f' => self.lit("false", J::Bool(false)),
            b'n' => self.lit("null", J::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                assert!(
                    self.i > start,
                    "unexpected {:?} at {} in {:?}",
                    self.peek() as char,
                    self.i,
                    self.text
                );
                J::Num(self.text[start..self.i].to_owned())
            }
        }
    }
    fn lit(&mut self, word: &str, v: J) -> J {
        assert!(
            self.s[self.i..].starts_with(word.as_bytes()),
            "bad literal in {:?}",
            self.text
        );
        self.i += word.len();
        v
    }
    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            let b = self.peek();
            match b {
                b'"' => {
                    self.i += 1;
                    return out;
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek();
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = |p: &mut Self| {
                                let h = &p.text[p.i..p.i + 4];
                                p.i += 4;
                                u32::from_str_radix(h, 16).expect("hex escape")
                            };
                            let mut c = hex(self);
                            if (0xD800..0xDC00).contains(&c) {
                                self.eat(b'\\');
                                self.eat(b'u');
                                let lo = hex(self);
                                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            out.push(char::from_u32(c).expect("valid escape"));
                        }
                        _ => panic!("bad escape in {:?}", self.text),
                    }
                }
                0x00..=0x1F => panic!("raw control character {b:#x} in a string: {:?}", self.text),
                _ => {
                    // Copy one UTF-8 character.
                    let rest = &self.text[self.i..];
                    let c = rest.chars().next().unwrap();
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }
}

/// Checks what every record must be: one line, valid UTF-8 JSON (for both
/// `serde_json` and the strict parser here), unique keys in every object.
pub fn check_record(line: &str) -> J {
    assert!(
        !line.contains('\n') && !line.contains('\r'),
        "not one line: {line:?}"
    );
    assert!(
        !line.contains('\u{2028}') && !line.contains('\u{2029}'),
        "raw line separator: {line:?}"
    );
    serde_json::from_str::<serde_json::Value>(line)
        .unwrap_or_else(|e| panic!("serde_json rejects {line:?}: {e}"));
    let j = parse(line);
    assert!(j.keys_unique(), "duplicate keys in {line}");
    j
}
