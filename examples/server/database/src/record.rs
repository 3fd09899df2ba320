//! The log's record format: `op:u8 klen:u32le vlen:u32le key value crc:u32le`, where
//! crc is FNV-1a over everything before it (enough to spot a torn write).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Put,
    Delete,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub op: Op,
    pub key: String,
    pub value: String,
}

const HEADER: usize = 9;

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

impl Record {
    /// Appends the encoded record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(match self.op {
            Op::Put => b'P',
            Op::Delete => b'D',
        });
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.value.len() as u32).to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        out.extend_from_slice(self.value.as_bytes());
        let crc = fnv1a(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Decodes the record at the start of `bytes` and its encoded length; None when the
    /// bytes end early or do not check out.
    pub fn decode(bytes: &[u8]) -> Option<(Record, usize)> {
        let op = match *bytes.first()? {
            b'P' => Op::Put,
            b'D' => Op::Delete,
            _ => return None,
        };
        let klen = u32::from_le_bytes(bytes.get(1..5)?.try_into().ok()?) as usize;
        let vlen = u32::from_le_bytes(bytes.get(5..9)?.try_into().ok()?) as usize;
        let body_end = HEADER.checked_add(klen)?.checked_add(vlen)?;
        let crc = u32::from_le_bytes(bytes.get(body_end..body_end + 4)?.try_into().ok()?);
        if fnv1a(&bytes[..body_end]) != crc {
            return None;
        }
        let key = String::from_utf8(bytes[HEADER..HEADER + klen].to_vec()).ok()?;
        let value = String::from_utf8(bytes[HEADER + klen..body_end].to_vec()).ok()?;
        Some((Record { op, key, value }, body_end + 4))
    }
}
