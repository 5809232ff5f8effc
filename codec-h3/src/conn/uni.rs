//! The peer's unidirectional streams (RFC 9114 §6.2, RFC 9204 §4.2): each is told apart
//! by its type, then read to its end: the control stream's frames, the QPACK streams'
//! instructions. Those three are critical: one of them ending ends the connection.

use bytes::BytesMut;
use quinn_proto::{Dir, StreamId};

use super::recv::{read_into, Read};
use super::streams::{closed_critical, Uni};
use super::*;
use crate::abuse::Cost;
use crate::frame::{Frame, FrameDecoder};
use crate::stream::{Side, StreamKind, StreamType};

/// The most read from a unidirectional stream at once.
const UNI_CHUNK: usize = 16 * 1024;

impl ServerConn {
    /// Takes every unidirectional stream the peer has opened, and reads what each holds.
    pub(super) fn accept_uni(&mut self) -> Result<(), ConnError> {
        while let Some(id) = self.conn.streams().accept(Dir::Uni) {
            self.peer
                .streams
                .insert(id, (Uni::Unknown, BytesMut::new()));
            self.read_uni(id)?;
        }
        Ok(())
    }

    /// Reads what `id` holds and processes it.
    pub(super) fn read_uni(&mut self, id: StreamId) -> Result<(), ConnError> {
        loop {
            let Some((_, buf)) = self.peer.streams.get_mut(&id) else {
                return Ok(());
            };
            let (read, got) = read_into(&mut self.conn, id, buf, UNI_CHUNK);
            if got > 0 {
                self.on_uni_data(id)?;
            }
            match read {
                Read::More => continue,
                Read::Blocked => return Ok(()),
                Read::Fin | Read::Reset(_) | Read::Closed => return self.on_uni_end(id),
            }
        }
    }

    fn on_uni_data(&mut self, id: StreamId) -> Result<(), ConnError> {
        // Out of the map while it is processed, back once that went well.
        let Some((mut uni, mut buf)) = self.peer.streams.remove(&id) else {
            return Ok(());
        };
        if let Uni::Unknown = uni {
            let Some(ty) = StreamType::decode(&mut buf) else {
                self.peer.streams.insert(id, (uni, buf));
                return Ok(());
            };
            match self.stream_type(id, ty)? {
                Some(kind) => uni = kind,
                None => return Ok(()),
            }
        }
        let unblocks = matches!(uni, Uni::Encoder);
        match &mut uni {
            Uni::Unknown => {}
            Uni::Encoder => self.decoder.feed_encoder_stream(&buf.split())?,
            Uni::Decoder => self.encoder.feed_decoder_stream(&buf.split())?,
            Uni::Control(frames) => self.control_frames(frames, &mut buf)?,
        }
        self.peer.streams.insert(id, (uni, buf));
        if unblocks {
            self.resume_unblocked()?;
        }
        Ok(())
    }

    /// A stream's type has come: it becomes one of the critical streams, or is refused
    /// (`None`: stopped, and read no further).
    fn stream_type(&mut self, id: StreamId, ty: StreamType) -> Result<Option<Uni>, ConnError> {
        let creation = |reason| ConnError::new(ErrorCode::H3_STREAM_CREATION_ERROR, reason);
        let (seen, uni) = match ty {
            StreamType::CONTROL => (
                &mut self.peer.control,
                Uni::Control(FrameDecoder::new(
                    StreamKind::Control,
                    Side::Server,
                    self.config.max_header_block as u64,
                )),
            ),
            StreamType::QPACK_ENCODER => (&mut self.peer.encoder, Uni::Encoder),
            StreamType::QPACK_DECODER => (&mut self.peer.decoder, Uni::Decoder),
            StreamType::PUSH => return Err(creation("a push stream from a client")),
            _ => {
                // Unknown and reserved types are not ours to read (§6.2).
                self.budgets.spend(Cost::Empty)?;
                let _ = self
                    .conn
                    .recv_stream(id)
                    .stop(super::varint(ErrorCode::H3_STREAM_CREATION_ERROR));
                return Ok(None);
            }
        };
        if std::mem::replace(seen, true) {
            return Err(creation("a second control or QPACK stream of one type"));
        }
        Ok(Some(uni))
    }

    /// The stream ended (or QUIC no longer has it): fatal for a critical stream; one
    /// whose type never came is just forgotten (§6.2).
    fn on_uni_end(&mut self, id: StreamId) -> Result<(), ConnError> {
        match self.peer.streams.remove(&id) {
            Some((Uni::Unknown, _)) | None => Ok(()),
            Some(_) => Err(closed_critical("the peer closed a critical stream")),
        }
    }

    fn control_frames(
        &mut self,
        frames: &mut FrameDecoder,
        buf: &mut BytesMut,
    ) -> Result<(), ConnError> {
        while let Some(frame) = frames.decode(buf)? {
            match frame {
                Frame::Settings(settings) => {
                    self.encoder.apply_settings(&settings);
                    self.peer.settings = Some(settings);
                }
                Frame::GoAway { id } => {
                    // From a client, the first push it will not accept (§5.2).
                    if self.peer.goaway.is_some_and(|last| id > last) {
                        return Err(id_error("GOAWAY with a larger ID than before"));
                    }
                    self.peer.goaway = Some(id);
                }
                Frame::MaxPushId { push_id } => {
                    if self.peer.max_push_id.is_some_and(|max| push_id < max) {
                        return Err(id_error("MAX_PUSH_ID lower than before"));
                    }
                    self.peer.max_push_id = Some(push_id);
                }
                Frame::CancelPush { .. } => {
                    // We never promise a push, so none can be cancelled (§7.2.3).
                    return Err(id_error("CANCEL_PUSH for a push never promised"));
                }
                Frame::Unknown { .. } => self.budgets.spend(Cost::Empty)?,
                Frame::Data { .. }
                | Frame::DataChunk(_)
                | Frame::Headers(_)
                | Frame::HeadersTooLarge { .. }
                | Frame::PushPromise { .. } => {
                    // The frame decoder refuses these on a control stream already.
                    return Err(ConnError::new(
                        ErrorCode::H3_FRAME_UNEXPECTED,
                        "request frame on the control stream",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn id_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::H3_ID_ERROR, reason)
}
