// VoiceConnect browser module: loaded once per document by the SPA root, so in-app navigation keeps the
// socket, the peer connections and the microphone. The server is authoritative: it sends `vc.sync(view)`
// whenever a call changes and `vc.signal(message)` to relay the peer's SDP and ICE candidates; this module
// reconciles the browser's media with that view and reports back with emitEvent("vc_signal", ...).
//
// Latency design: every ringing callee tab negotiates its own peer connection with the caller while it
// rings, with no track on either sender, so nothing is heard before Accept. Accepting only puts the
// microphone on the already-connected sender (replaceTrack, no renegotiation).
//
// A group call adds *links* (the view's `links`): one peer connection each, to another member's tab (a mesh), or
// to whatever answers it (a media bridge mixing everyone). On a link with the role `offer` this tab offers with the
// microphone on its sender; on one with the role `answer` it answers the offer that comes. The same microphone
// track is on every sender, so mute, push to talk and a switch of device or voice processing apply to all.
"use strict";

(() => {
  const calls = new Map(); // call id → the call as this document sees it (see "peer connections" below)
  const invitations = new Set(); // ids of group calls this tab rings for (not ours until Accept)
  let micPromise = null; // one microphone stream per document, shared by calls
  let micCallId = null;

  const trace = []; // [ms since page load, what happened]: read by benchmarks and when debugging
  const note = (what) => trace.length < 500 && trace.push([Math.round(performance.now()), what]);
  const $ = (id) => document.getElementById(id);
  const send = (message) => {
    note(`send ${message.kind}`);
    emitEvent("vc_signal", message);
  };

  // ---- connection badge: driven by the real socket state, set in the page even while the server is away

  function setBadge(state) {
    const badge = $("vc-status");
    if (!badge || badge.dataset.state === state) return;
    badge.dataset.state = state;
    badge.textContent = { connected: "Connected", reconnecting: "Reconnecting…", offline: "Offline" }[state];
    // each with a text colour that reads on it (WCAG AA, 4.5:1): dark on the yellow, white on the others
    const looks = { connected: ["bg-positive", "text-white"], reconnecting: ["bg-warning", "text-black"], offline: ["bg-grey-8", "text-white"] };
    badge.classList.remove(...Object.values(looks).flat());
    badge.classList.add(...looks[state]);
    const before = document.body.dataset.vcConnection;
    document.body.dataset.vcConnection = state;
    if (state === "reconnecting") announceConnection("Reconnecting…");
    else if (state === "connected" && before === "reconnecting") announceConnection("Connection back");
  }

  // the page's own live region (pages/chrome.py): the server cannot say these while it is away
  function announceConnection(text) {
    const region = $("vc-announce-connection");
    if (region) region.dataset.say = region.dataset.say === text ? `${text}\u00a0` : text;
  }

  // After a drop, try again at least every second (socket.io backs off to 5 s by default): a restarted server,
  // or another process taking over, is back in the page within about a second of answering.
  const RECONNECT_DELAY_MS = 250;
  const RECONNECT_DELAY_MAX_MS = 1000;

  function watchSocket() {
    if (!window.socket) return setTimeout(watchSocket, 20);
    window.socket.io.reconnectionDelay(RECONNECT_DELAY_MS);
    window.socket.io.reconnectionDelayMax(RECONNECT_DELAY_MAX_MS);
    window.socket.on("connect", () => setBadge("connected"));
    window.socket.on("disconnect", () => setBadge("reconnecting"));
    if (window.socket.connected) setBadge("connected");
  }

  // The browser knows at once when the network goes: say so, and drop the socket instead of waiting for
  // its ping to time out; when the network is back, reconnect now rather than at the next backoff step.
  function networkChanged() {
    note(navigator.onLine ? "network back" : "network gone");
    if (!navigator.onLine) {
      setBadge("reconnecting");
      window.socket?.io.engine?.close();
    } else if (window.socket && !window.socket.connected) {
      window.socket.connect();
    }
  }
  window.addEventListener("offline", networkChanged);
  window.addEventListener("online", networkChanged);

  // ---- sounds: a rejected play() (autoplay policy) is shown, and retried on the next click

  function play(id) {
    const audio = $(id);
    if (!audio || !audio.paused) return;
    audio.currentTime = 0;
    audio.play().then(hideSoundBlocked, () => showSoundBlocked(id));
  }

  function stopSound(id) {
    const audio = $(id);
    if (audio && !audio.paused) audio.pause();
  }

  function showSoundBlocked(id) {
    const note = $("vc-sound-blocked");
    if (!note) return;
    note.hidden = false;
    document.addEventListener("click", () => play(id), { once: true, capture: true });
  }

  function hideSoundBlocked() {
    const note = $("vc-sound-blocked");
    if (note) note.hidden = true;
  }

  // ---- microphone

  function microphone(callId) {
    if (!micPromise) {
      micCallId = callId;
      micPromise = openMicrophone(chosen(MIC_KEY))
        .then((stream) => watchMicTrack(stream))
        .catch((error) => {
          micPromise = null;
          throw error;
        });
    }
    return micPromise;
  }

  // A device chosen in Audio settings that is gone is not an error: the default one is used (and the person told).
  // The voice processing is asked for `exact`ly: Chromium gives a new request the processing of a source already
  // open on that device when its constraints are only `ideal` (measured, Chromium 156), so a switch flipped while
  // the call's microphone is live would change nothing. A device that cannot do what was chosen gets `ideal`.
  function micConstraints(deviceId, strictness = "exact") {
    const audio = {};
    for (const [constraint, key] of PROCESSING) audio[constraint] = { [strictness]: switchedOn(key) };
    if (deviceId) audio.deviceId = { ideal: deviceId };
    return { audio, video: false };
  }

  async function openMicrophone(deviceId) {
    try {
      return await navigator.mediaDevices.getUserMedia(micConstraints(deviceId));
    } catch (error) {
      if (error.name !== "OverconstrainedError") throw error;
      return navigator.mediaDevices.getUserMedia(micConstraints(deviceId, "ideal"));
    }
  }

  // Whether the call's microphone sends sound: never while muted (the server's view), and with push to talk only
  // while the person holds space or the Talk button.
  function micOpen(call) {
    return !call.muted && (!switchedOn(PUSH_TO_TALK_KEY) || talking);
  }

  function releaseMicrophone(callId) {
    if (!micPromise || micCallId !== callId) return;
    micPromise.then((stream) => stream.getTracks().forEach((t) => t.stop())).catch(() => {});
    micPromise = null;
    micCallId = null;
  }

  function micFailed(callId, error) {
    const call = calls.get(callId);
    if (call && call.micFailed) return; // one report per call, however many senders wait for the microphone
    if (call) call.micFailed = true;
    // a fixed code: the server says it in words to both people
    const name = error && error.name;
    const reason = name === "NotAllowedError" ? "mic_refused" : name === "NotFoundError" ? "mic_missing" : "mic_unavailable";
    if (reason === "mic_unavailable") console.error("microphone could not be opened", error);
    send({ kind: "media_failed", call_id: callId, reason });
  }

  // ---- peer connections, one per leg
  //
  // A call is {role, ice (its RTCConfiguration), muted, legs: Map(leg id → leg), myLeg, answeredLeg, phase}. Its phase says how far
  // this document got: a callee tab "ringing" → "answered"; a caller "dialing" → "ringback" (a callee tab's offer
  // arrived: that tab really rings, the caller hears ringback and opens the microphone) → "answered".
  //
  // A leg is one peer connection between the caller and one callee tab, with three named states:
  //   sdp:   "offering" (callee) | "answering" (caller) → "negotiated" (remote description set, ICE applied)
  //   mic:   "off" → "opening" → "on"       (the microphone track is on this leg's sender)
  //   media: "pending" → "reported"        (the server was told media flows on the answered leg)

  function newLeg(call, callId, legId) {
    const pc = new RTCPeerConnection(rtcConfiguration(call.ice));
    const sdp = call.role === "callee" ? "offering" : "answering";
    const leg = { pc, pending: [], remote: null, sdp, mic: "off", media: "pending" };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      send({
        kind: "candidate",
        call_id: callId,
        leg: legId,
        candidate: candidate.candidate,
        sdp_mid: candidate.sdpMid,
        sdp_mline_index: candidate.sdpMLineIndex,
      });
    };
    pc.ontrack = ({ streams, track }) => {
      leg.remote = streams[0] || new MediaStream([track]);
      if (call.answeredLeg === legId) attachRemote(leg);
    };
    pc.onconnectionstatechange = () => {
      note(`leg ${pc.connectionState}`);
      reportMediaIfUp(callId);
      // The media path broke (a network change, a long outage): the callee, who makes the offers, restarts
      // ICE. Its offer waits in the socket's buffer if the signaling is still away.
      if (pc.connectionState === "failed" && call.role === "callee") restartIce(callId, legId, leg);
    };
    call.legs.set(legId, leg);
    return leg;
  }

  function rtcConfiguration(ice) {
    return { iceServers: ice.iceServers, iceTransportPolicy: ice.iceTransportPolicy };
  }

  // Fresh TURN credentials before the old ones expire (a call longer than TURN_TTL_S): every peer connection
  // takes them, and the callee (who makes the offers) restarts ICE so that new relays are allocated with them.
  function renewIce(ice) {
    for (const [callId, call] of calls) {
      call.ice = ice;
      for (const [legId, leg] of call.legs) {
        leg.pc.setConfiguration(rtcConfiguration(ice));
        if (call.role === "callee" && leg.sdp === "negotiated") restartIce(callId, legId, leg);
      }
      for (const [linkId, link] of call.links) {
        link.pc.setConfiguration(rtcConfiguration(ice));
        if (link.role === "offer" && link.sdp === "negotiated") restartIce(callId, linkId, link);
      }
    }
  }

  async function restartIce(callId, legId, leg) {
    try {
      const offer = await leg.pc.createOffer({ iceRestart: true });
      await leg.pc.setLocalDescription(offer);
      send({ kind: "offer", call_id: callId, leg: legId, sdp: leg.pc.localDescription.sdp });
    } catch (error) {
      console.error("ICE restart failed", error);
    }
  }

  function attachRemote(leg) {
    const audio = $("vc-remote-audio");
    if (audio && leg.remote && audio.srcObject !== leg.remote) {
      audio.srcObject = leg.remote;
      audio.play().catch(() => showSoundBlocked("vc-remote-audio"));
      levels.remote = analyse(leg.remote);
    }
  }

  async function setRemote(leg, description) {
    await leg.pc.setRemoteDescription(description);
    leg.sdp = "negotiated";
    for (const candidate of leg.pending.splice(0)) await leg.pc.addIceCandidate(candidate);
  }

  async function offerFromCallee(call, callId, legId) {
    if (calls.get(callId) !== call || call.myLeg !== legId) return; // ended or renewed before it got here
    const leg = newLeg(call, callId, legId);
    leg.pc.addTransceiver("audio", { direction: "sendrecv" }); // no track yet: silent until Accept
    const offer = await leg.pc.createOffer();
    await leg.pc.setLocalDescription(offer);
    send({ kind: "offer", call_id: callId, leg: legId, sdp: leg.pc.localDescription.sdp });
    if (call.answeredLeg === legId) connectMicrophone(call, callId); // answered before the leg existed
  }

  // A callee tab's offer is the caller's "180 Ringing": that tab is alive and ringing. The caller hears the
  // ringback from then on, and opens the microphone now so that Accept does not wait for it.
  function calleeRinging(call, callId) {
    if (call.phase !== "dialing") return;
    call.phase = "ringback";
    play("vc-ringback");
    microphone(callId).catch((error) => micFailed(callId, error));
  }

  async function answerAsCaller(call, callId, legId, sdp) {
    calleeRinging(call, callId);
    const leg = call.legs.get(legId) || newLeg(call, callId, legId);
    await setRemote(leg, { type: "offer", sdp });
    leg.pc.getTransceivers().forEach((t) => (t.direction = "sendrecv")); // keep the send side for the mic
    const answer = await leg.pc.createAnswer();
    await leg.pc.setLocalDescription(answer);
    send({ kind: "answer", call_id: callId, leg: legId, sdp: leg.pc.localDescription.sdp });
    if (call.answeredLeg === legId) connectMicrophone(call, callId);
  }

  async function connectMicrophone(call, callId) {
    const leg = call.legs.get(call.answeredLeg);
    if (!leg || leg.mic !== "off") return;
    leg.mic = "opening";
    let stream;
    try {
      stream = await microphone(callId);
    } catch (error) {
      leg.mic = "off";
      return micFailed(callId, error);
    }
    if (!calls.has(callId)) return;
    const track = stream.getAudioTracks()[0];
    track.enabled = micOpen(call);
    const sender = leg.pc.getTransceivers()[0]?.sender;
    if (sender) await sender.replaceTrack(track);
    leg.mic = "on";
    note("mic attached");
    showPushToTalk();
    levels.local = analyse(stream);
    startWatching();
    attachRemote(leg);
    reportMediaIfUp(callId);
  }

  function reportMediaIfUp(callId) {
    const call = calls.get(callId);
    const leg = call && call.legs.get(call.answeredLeg);
    if (call && !leg) return reportLinkMediaIfUp(call, callId);
    if (!leg || leg.media === "reported" || leg.mic !== "on" || leg.pc.connectionState !== "connected") return;
    leg.media = "reported";
    call.mediaReported = true;
    send({ kind: "media_up", call_id: callId });
  }

  // Without a leg of its own (someone added to a group call, or a call whose leg is gone), this tab's media is up
  // once one of its links carries the microphone over a connected peer connection: told once.
  function reportLinkMediaIfUp(call, callId) {
    if (call.mediaReported || call.phase !== "answered") return;
    const up = (link) => link.mic === "on" && link.pc.connectionState === "connected";
    if (![...call.links.values()].some(up)) return;
    call.mediaReported = true;
    send({ kind: "media_up", call_id: callId });
  }

  function closeLeg(call, legId) {
    const leg = call.legs.get(legId);
    if (!leg) return;
    leg.pc.close();
    call.legs.delete(legId);
  }

  function teardown(callId) {
    const call = calls.get(callId);
    if (!call) return;
    for (const legId of [...call.legs.keys()]) closeLeg(call, legId);
    for (const linkId of [...call.links.keys()]) closeLink(call, linkId);
    calls.delete(callId);
    releaseMicrophone(callId);
    ringEnded(callId);
    if (calls.size === 0) {
      stopWatching();
      stopSound("vc-ringtone");
      stopSound("vc-ringback");
      const audio = $("vc-remote-audio");
      if (audio) audio.srcObject = null;
    }
    showPushToTalk();
  }

  // The callee's peer connection is built a moment after the dialog appears: creating it and gathering
  // candidates keeps the main thread busy for tens of milliseconds, which would hold up the dialog's paint
  // and the ringtone. People take far longer than this to click Accept, and an earlier click still works
  // (the leg connects the microphone as soon as it exists).
  const NEGOTIATE_AFTER_RING_MS = 250;

  // ---- the server's view of a call → this document's media

  function sync(view) {
    const { id, role, state, here, leg } = view;
    note(`sync ${role} ${state}`);
    if (view.invited_here && view.my_state === "ringing" && state !== "ended") return invitationRinging(id, view);
    invitationOver(id, here && state !== "ended");
    if (role === "callee" && here && state === "ringing" && leg) ringStarted(id, view.peer);
    else ringEnded(id);
    if (!here || state === "ended") return teardown(id);
    let call = calls.get(id);
    if (!call) {
      const phase = role === "callee" ? "ringing" : "dialing";
      call = { role, ice: view.ice, legs: new Map(), links: new Map(), myLeg: null, answeredLeg: null, phase };
      calls.set(id, call);
    }
    call.muted = view.me_muted;
    call.peer = view.peer;
    const ringing = state === "ringing";
    if (role === "callee") {
      if (call.myLeg !== leg) {
        // a new leg (the first, or renewed because the caller's page was reloaded): negotiate a fresh connection
        for (const old of [...call.legs.keys()]) closeLeg(call, old);
        call.myLeg = leg;
        const offer = () => offerFromCallee(call, id, leg).catch((e) => console.error("offer failed", e));
        if (leg) setTimeout(offer, NEGOTIATE_AFTER_RING_MS); // none: added to a group call, or the caller left it
      }
      if (ringing) return play("vc-ringtone");
      stopSound("vc-ringtone");
    } else {
      if (ringing) return; // the ringback starts when a callee tab really rings (its offer arrives)
      stopSound("vc-ringback");
      for (const other of [...call.legs.keys()]) if (other !== leg) closeLeg(call, other);
    }
    call.phase = "answered";
    call.answeredLeg = leg;
    if (call.legs.has(leg)) connectMicrophone(call, id);
    syncLinks(call, id, view.links || []);
    setMuted(id, view.me_muted);
    reportMediaIfUp(id); // an invitation's links may have connected (and the microphone gone on) before it joined
  }

  // ---- a group call's links: one peer connection each, beside the caller-callee leg (or instead of it)
  //
  // A link is {pc, pending, remote, sdp, mic, role, peer, audio, level, live}: like a leg, with the role this tab has
  // on it (`offer` or `answer`), the name of its other end (`everyone` for a bridge), its own <audio> and level
  // meter; `live` once the microphone may go on it (both ends joined: an invitation's links connect silent).
  // A link the view no longer names is closed; a renewed one (a member's tab reloaded) comes with a new id.

  function syncLinks(call, callId, wanted) {
    const named = new Set(wanted.map((link) => link.id));
    for (const linkId of [...call.links.keys()]) if (!named.has(linkId)) closeLink(call, linkId);
    for (const { id: linkId, role, peer, live } of wanted) {
      let link = call.links.get(linkId);
      if (link) link.peer = peer; // an offer may come before the view naming its link
      else {
        link = newLink(call, callId, linkId, role, peer);
        if (role === "offer") offerOnLink(call, callId, linkId, link).catch((e) => console.error("link offer failed", e));
      }
      if (live && !link.live) goLive(call, callId, link);
    }
  }

  function newLink(call, callId, linkId, role, peer) {
    const pc = new RTCPeerConnection(rtcConfiguration(call.ice));
    const sdp = role === "offer" ? "offering" : "answering";
    const link = { pc, pending: [], remote: null, sdp, mic: "off", role, peer, audio: null, level: null, live: false };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      send({
        kind: "candidate",
        call_id: callId,
        leg: linkId,
        candidate: candidate.candidate,
        sdp_mid: candidate.sdpMid,
        sdp_mline_index: candidate.sdpMLineIndex,
      });
    };
    pc.ontrack = ({ streams, track }) => {
      link.remote = streams[0] || new MediaStream([track]);
      playLink(linkId, link);
    };
    pc.onconnectionstatechange = () => {
      note(`link ${pc.connectionState}`);
      reportMediaIfUp(callId);
      if (pc.connectionState === "failed" && link.role === "offer") restartIce(callId, linkId, link); // as for legs
    };
    call.links.set(linkId, link);
    return link;
  }

  // The offer goes out at once; the microphone joins its sender when open (no renegotiation: the transceiver
  // sends already). Whatever answers it (another member's tab, a bridge) gets the same offer.
  async function offerOnLink(call, callId, linkId, link) {
    const { sender } = link.pc.addTransceiver("audio", { direction: "sendrecv" });
    const offer = await link.pc.createOffer();
    await link.pc.setLocalDescription(offer);
    if (call.links.get(linkId) !== link) return; // closed or renewed meanwhile
    send({ kind: "offer", call_id: callId, leg: linkId, sdp: link.pc.localDescription.sdp });
    if (link.live) await microphoneOnLink(call, callId, link, sender);
  }

  async function answerOnLink(call, callId, linkId, sdp) {
    const link = call.links.get(linkId) || newLink(call, callId, linkId, "answer", "");
    await setRemote(link, { type: "offer", sdp });
    link.pc.getTransceivers().forEach((t) => (t.direction = "sendrecv"));
    const answer = await link.pc.createAnswer();
    await link.pc.setLocalDescription(answer);
    send({ kind: "answer", call_id: callId, leg: linkId, sdp: link.pc.localDescription.sdp });
    if (link.live) await microphoneOnLink(call, callId, link, link.pc.getTransceivers()[0]?.sender);
  }

  // The microphone goes on a link once it carries voice (its transceiver exists once its negotiation began: a link
  // still waiting for its offer takes the microphone when it answers).
  function goLive(call, callId, link) {
    link.live = true;
    const sender = link.pc.getTransceivers()[0]?.sender;
    if (sender) microphoneOnLink(call, callId, link, sender).catch((e) => console.error("link microphone failed", e));
  }

  async function microphoneOnLink(call, callId, link, sender) {
    if (!sender || sender.track || link.mic !== "off") return; // a renegotiation (ICE restart) keeps its track
    link.mic = "opening";
    let stream;
    try {
      stream = await microphone(callId);
    } catch (error) {
      link.mic = "off";
      return micFailed(callId, error);
    }
    if (calls.get(callId) !== call || link.pc.signalingState === "closed") return;
    const track = stream.getAudioTracks()[0];
    track.enabled = micOpen(call);
    await sender.replaceTrack(track);
    link.mic = "on";
    note("mic attached to link");
    if (!levels.local) levels.local = analyse(stream);
    startWatching();
    showPushToTalk();
    reportMediaIfUp(callId);
  }

  function playLink(linkId, link) {
    if (!link.audio) {
      link.audio = document.createElement("audio");
      link.audio.id = `vc-link-audio-${linkId}`;
      link.audio.className = "vc-link-audio";
      link.audio.autoplay = true;
      ($("vc-remote-audio")?.parentElement || document.body).append(link.audio);
      if (chosen(SPEAKER_KEY) && link.audio.setSinkId) link.audio.setSinkId(chosen(SPEAKER_KEY)).catch(() => {});
    }
    if (link.audio.srcObject === link.remote) return;
    link.audio.srcObject = link.remote;
    link.audio.play().catch(() => showSoundBlocked(link.audio.id));
    link.level?.stop();
    link.level = analyse(link.remote);
    startWatching();
  }

  function closeLink(call, linkId) {
    const link = call.links.get(linkId);
    if (!link) return;
    link.pc.close();
    link.level?.stop();
    if (link.audio) {
      link.audio.srcObject = null;
      link.audio.remove();
    }
    call.links.delete(linkId);
  }

  // ---- an invitation into a group call going on: this tab rings (title, ringtone) until accepted or over

  // Its links to the members connect meanwhile, silent both ways (no microphone goes on them before Accept, nor
  // theirs before the server says this tab joined): Accept then costs no negotiation, as for a ringing callee's leg.
  function invitationRinging(callId, view) {
    invitations.add(callId);
    ringStarted(callId, view.inviter);
    play("vc-ringtone");
    let call = calls.get(callId);
    if (!call) {
      call = { role: "callee", ice: view.ice, legs: new Map(), links: new Map(), myLeg: null, answeredLeg: null };
      calls.set(callId, call);
    }
    call.phase = "invited"; // "answered" once the server says this tab joined (media is reported from then)
    call.muted = view.me_muted;
    syncLinks(call, callId, view.links || []);
  }

  function invitationOver(callId, joinedHere) {
    if (!invitations.delete(callId)) return;
    ringEnded(callId);
    const stillRinging = invitations.size > 0 || [...calls.values()].some((call) => call.phase === "ringing");
    if (!stillRinging) stopSound("vc-ringtone");
    if (!joinedHere) releaseMicrophone(callId); // opened by Accept, in case it was clicked in vain
  }

  function setMuted(callId, muted) {
    const call = calls.get(callId);
    if (!call) return;
    call.muted = muted;
    for (const sender of micSenders(call)) sender.track.enabled = micOpen(call);
    showPushToTalk();
  }

  async function signal(message) {
    note(`got ${message.kind}`);
    const call = calls.get(message.call_id);
    if (!call) return;
    try {
      if (message.kind === "offer" && message.link)
        return await answerOnLink(call, message.call_id, message.link, message.sdp);
      if (message.kind === "offer") return await answerAsCaller(call, message.call_id, message.leg, message.sdp);
      const leg = call.legs.get(message.leg) || call.links.get(message.leg);
      if (!leg) return;
      if (message.kind === "answer") return await setRemote(leg, { type: "answer", sdp: message.sdp });
      if (message.kind === "candidate") {
        const candidate = {
          candidate: message.candidate,
          sdpMid: message.sdp_mid,
          sdpMLineIndex: message.sdp_mline_index,
        };
        if (leg.sdp === "negotiated") await leg.pc.addIceCandidate(candidate);
        else leg.pending.push(candidate);
      }
    } catch (error) {
      console.error("signaling failed", message.kind, error);
    }
  }

  // Accept clicked: open the microphone and put it on the ringing leg now, while the server is told; the
  // caller has had its microphone since it dialled, so voice flows as soon as both senders have a track.
  function acceptClicked() {
    for (const [id, call] of calls) {
      if (call.role !== "callee" || call.phase !== "ringing" || !call.legs.has(call.myLeg)) continue;
      note("accept clicked");
      call.answeredLeg = call.myLeg;
      stopSound("vc-ringtone");
      connectMicrophone(call, id);
    }
    for (const id of invitations) {
      note("accept clicked");
      stopSound("vc-ringtone");
      microphone(id).catch(() => {}); // open while the server is told: the links take it once they exist
      const call = calls.get(id);
      // this tab's voice goes out now; the members' comes once the server says it joined
      if (call) for (const link of call.links.values()) if (!link.live) goLive(call, id, link);
    }
  }

  function signedOut() {
    for (const id of [...calls.keys()]) teardown(id);
    setBadge("offline");
  }

  // signed in (again, e.g. back from an absence longer than the grace): the badge follows the socket once more
  function signedIn() {
    setBadge(window.socket && window.socket.connected ? "connected" : "reconnecting");
  }

  // the server lost what it shares with its other processes (Redis), or has it back: calls wait meanwhile
  function serviceInterrupted(interrupted) {
    if (interrupted) setBadge("reconnecting");
    else signedIn();
  }

  document.addEventListener(
    "click",
    (event) => event.target.closest && event.target.closest("[data-vc-accept]") && acceptClicked(),
    { capture: true },
  );
  // ---- audio devices: chosen per browser (localStorage), applied at once, mid-call too (replaceTrack)

  const MIC_KEY = "vc-microphone";
  const SPEAKER_KEY = "vc-speaker";
  const chosen = (key) => localStorage.getItem(key) || "";
  const choose = (key, id) => (id ? localStorage.setItem(key, id) : localStorage.removeItem(key));
  // The switches, kept per browser as "on"/"off" under their element's id; the defaults are Chromium's own
  const PUSH_TO_TALK_KEY = "vc-push-to-talk";
  const PROCESSING = [
    // [getUserMedia constraint, its switch]
    ["noiseSuppression", "vc-noise-suppression"],
    ["echoCancellation", "vc-echo-cancellation"],
    ["autoGainControl", "vc-auto-gain"],
  ];
  const SWITCH_DEFAULTS = {
    "vc-noise-suppression": true,
    "vc-echo-cancellation": true,
    "vc-auto-gain": true,
    [PUSH_TO_TALK_KEY]: false,
  };
  const switchedOn = (key) => (localStorage.getItem(key) ?? (SWITCH_DEFAULTS[key] ? "on" : "off")) === "on";
  let audioContext = null;
  let preview = null; // the settings dialog's own microphone stream, outside a call
  let meterTimer = null;
  let meterAnalyser = null;

  function context() {
    if (!audioContext) audioContext = new AudioContext();
    if (audioContext.state === "suspended") audioContext.resume().catch(() => {});
    return audioContext;
  }

  // an analyser on a stream; level() is its loudness now (RMS, 0..1)
  function analyse(stream) {
    const analyser = context().createAnalyser();
    analyser.fftSize = 1024;
    const source = context().createMediaStreamSource(stream);
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    return {
      stream,
      level() {
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const x of samples) sum += x * x;
        return Math.sqrt(sum / samples.length);
      },
      stop() {
        source.disconnect();
      },
    };
  }

  function audioElements() {
    const fixed = ["vc-remote-audio", "vc-ringtone", "vc-ringback"].map($).filter(Boolean);
    return [...fixed, ...document.querySelectorAll(".vc-link-audio")];
  }

  async function applySpeaker(id) {
    for (const audio of audioElements()) {
      if (!audio.setSinkId) return;
      try {
        await audio.setSinkId(id || "");
      } catch (error) {
        choose(SPEAKER_KEY, "");
        deviceNote("The chosen speaker is not available: sound plays on the default one.");
        return audio.setSinkId("").catch(() => {});
      }
    }
  }

  function deviceNote(text) {
    const box = $("vc-device-note");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  // the senders of a call that carry the microphone: its answered leg's and each of its links'
  function micSenders(call) {
    const carriers = [call.legs.get(call.answeredLeg), ...call.links.values()].filter(Boolean);
    return carriers.map((carrier) => carrier.pc.getTransceivers()[0]?.sender).filter((sender) => sender?.track);
  }

  // the call's microphone track (and a peer connection carrying it, for the quality), or nothing outside a call
  function callTrack() {
    for (const call of calls.values()) {
      const senders = micSenders(call);
      if (!senders.length) continue;
      const leg = [call.legs.get(call.answeredLeg), ...call.links.values()].find(
        (carrier) => carrier && carrier.pc.getTransceivers()[0]?.sender === senders[0],
      );
      return { call, leg, track: senders[0].track, senders };
    }
    return null;
  }

  // Switch the microphone (another device, or other voice processing): a new stream, put on the call's sender
  // without renegotiation. Chromium's applyConstraints resolves but leaves a live track's processing as it was
  // (getSettings unchanged, measured with Chromium 156), so a new track is the one way that works.
  async function switchMicrophone(deviceId) {
    const current = callTrack();
    if (!current || !micPromise) return;
    const old = await micPromise.catch(() => null);
    const stream = await reopenMicrophone(deviceId, old);
    const track = stream.getAudioTracks()[0];
    track.enabled = micOpen(current.call);
    await Promise.all(current.senders.map((sender) => sender.replaceTrack(track))); // every link hears the new one
    micPromise = Promise.resolve(watchMicTrack(stream));
    if (old) old.getTracks().forEach((t) => t.stop());
    levels.local?.stop();
    levels.local = analyse(stream);
    note("microphone switched");
    if ($("vc-audio-settings")?.open) startMeter();
  }

  // The new stream opens while the old one still sends, so the voice goes on. But Chromium may give it the processing
  // of the source still open despite `exact` (all processing off after only some was: measured, Chromium 156); then
  // only closing the old one first gets what was chosen, at the cost of a moment of silence.
  async function reopenMicrophone(deviceId, old) {
    const stream = await openMicrophone(deviceId);
    if (!old || processedAsChosen(stream.getAudioTracks()[0])) return stream;
    note("microphone reopened for its processing");
    for (const track of [...stream.getTracks(), ...old.getTracks()]) track.stop();
    return openMicrophone(deviceId);
  }

  function processedAsChosen(track) {
    const settings = track.getSettings();
    const honoured = ([constraint, key]) =>
      typeof settings[constraint] !== "boolean" || settings[constraint] === switchedOn(key);
    return PROCESSING.every(honoured);
  }

  // a microphone unplugged mid-call ends its track: carry on with the default one, and say so
  function watchMicTrack(stream) {
    const track = stream.getAudioTracks()[0];
    if (track)
      track.addEventListener("ended", () => {
        if (micPromise === null) return;
        choose(MIC_KEY, "");
        deviceNote("Your microphone was disconnected: now using the default microphone.");
        switchMicrophone("").catch((error) => deviceNote(`No microphone works now: ${error.message || error.name}`));
      });
    return stream;
  }

  async function fillSelect(select, kind, key) {
    const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === kind);
    select.replaceChildren();
    const fallback = document.createElement("option");
    fallback.value = "";
    fallback.textContent = "Default";
    select.append(fallback);
    devices
      .filter((d) => d.deviceId && d.deviceId !== "default")
      .forEach((d, i) => {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || `${kind === "audioinput" ? "Microphone" : "Speaker"} ${i + 1}`;
        select.append(option);
      });
    select.value = [...select.options].some((o) => o.value === chosen(key)) ? chosen(key) : "";
    return devices;
  }

  async function fillDevices() {
    const mic = $("vc-mic-select"), speaker = $("vc-speaker-select");
    if (!mic || !speaker) return;
    await fillSelect(mic, "audioinput", MIC_KEY);
    const outputs = await fillSelect(speaker, "audiooutput", SPEAKER_KEY);
    speaker.disabled = !outputs.length || !HTMLMediaElement.prototype.setSinkId;
  }

  async function startMeter() {
    stopMeter();
    let stream = callTrack() ? await micPromise : null;
    if (!stream) {
      preview = await openMicrophone(chosen(MIC_KEY));
      stream = preview;
      await fillDevices(); // device names are known once a microphone was opened
    }
    const analyser = (meterAnalyser = analyse(stream));
    const meter = $("vc-mic-level");
    meterTimer = setInterval(() => {
      // in decibels, as meters show it: -60 dBFS (or silence) is empty, 0 dBFS full
      const level = Math.max(0, Math.min(1, (20 * Math.log10(analyser.level() || 1e-9) + 60) / 60));
      meter.value = level;
      meter.setAttribute("aria-valuenow", level.toFixed(2));
    }, 100);
  }

  function stopMeter() {
    clearInterval(meterTimer);
    meterAnalyser?.stop();
    meterTimer = meterAnalyser = null;
    if (preview) preview.getTracks().forEach((t) => t.stop());
    preview = null;
  }

  async function openAudioSettings() {
    const dialog = $("vc-audio-settings");
    if (!dialog) return;
    showSwitches(null);
    if (!dialog.open) dialog.showModal();
    try {
      await fillDevices();
      await startMeter();
      showSwitches(liveMicTrack());
    } catch (error) {
      deviceNote(`The microphone cannot be opened: ${error.message || error.name}`);
    }
  }

  // the microphone track open now: the call's, else the settings dialog's own
  function liveMicTrack() {
    return callTrack()?.track || preview?.getAudioTracks()[0] || null;
  }

  // Each switch shows what is chosen, and for the voice processing what the live track really does: a microphone
  // that cannot do what was chosen is told, not hidden.
  function showSwitches(track) {
    for (const key of Object.keys(SWITCH_DEFAULTS)) if ($(key)) $(key).checked = switchedOn(key);
    if (!track) return;
    const settings = track.getSettings();
    const refused = [];
    for (const [constraint, key] of PROCESSING) {
      if (typeof settings[constraint] !== "boolean" || !$(key)) continue;
      $(key).checked = settings[constraint];
      if (settings[constraint] !== switchedOn(key)) refused.push($(key).parentElement.textContent.trim());
    }
    if (refused.length) deviceNote(`This microphone cannot change: ${refused.join(", ")}.`);
  }

  // A switch of the voice processing applies at once: a new track on the call's sender (switchMicrophone), or the
  // dialog's own microphone reopened. One at a time, so quick flips end on the last one.
  let processing = Promise.resolve();

  function applyProcessing() {
    processing = processing
      .then(async () => {
        if (callTrack()) await switchMicrophone(chosen(MIC_KEY));
        else if ($("vc-audio-settings")?.open) await startMeter();
        note("voice processing applied");
        showSwitches(liveMicTrack());
      })
      .catch((error) => deviceNote(`Microphone: ${error.message || error.name}`));
  }

  function switchFlipped(input) {
    localStorage.setItem(input.id, input.checked ? "on" : "off");
    if (input.id === PUSH_TO_TALK_KEY) pushToTalkChanged();
    else applyProcessing();
  }

  function audioSettingsChanged(event) {
    if (Object.hasOwn(SWITCH_DEFAULTS, event.target.id)) return switchFlipped(event.target);
    if (event.target.id === "vc-mic-select") {
      choose(MIC_KEY, event.target.value);
      if (callTrack()) switchMicrophone(event.target.value).catch((e) => deviceNote(`Microphone: ${e.message}`));
      else startMeter().catch((e) => deviceNote(`Microphone: ${e.message}`));
    } else if (event.target.id === "vc-speaker-select") {
      choose(SPEAKER_KEY, event.target.value);
      applySpeaker(event.target.value);
    }
  }

  async function devicesChanged() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const present = (id, kind) => !id || devices.some((d) => d.deviceId === id && d.kind === kind);
    if (!present(chosen(MIC_KEY), "audioinput")) {
      choose(MIC_KEY, "");
      deviceNote("Your microphone was disconnected: now using the default microphone.");
      if (callTrack()) switchMicrophone("").catch(() => {});
    }
    if (!present(chosen(SPEAKER_KEY), "audiooutput")) {
      choose(SPEAKER_KEY, "");
      deviceNote("Your speaker was disconnected: sound now plays on the default speaker.");
      applySpeaker("");
    }
    if ($("vc-audio-settings")?.open) fillDevices();
  }

  // ---- push to talk: with its switch on, the call's microphone track is disabled (the peer hears silence) except
  // while space (outside a text box) or the Talk button is held. A mode of this browser only: the server, and so
  // the peer, still see you unmuted; Mute (the server's view) always wins.

  const holding = new Set(); // what holds the talk open now: "key", "pointer"
  let talking = false;

  function setHolding(what, on) {
    if (on) holding.add(what);
    else holding.delete(what);
    if (talking === holding.size > 0) return;
    talking = holding.size > 0;
    note(talking ? "talking" : "talking stopped");
    applyMicOpen();
  }

  function applyMicOpen() {
    for (const call of calls.values()) for (const sender of micSenders(call)) sender.track.enabled = micOpen(call);
    showPushToTalk();
  }

  function pushToTalkChanged() {
    holding.clear();
    talking = false;
    applyMicOpen();
  }

  function showPushToTalk() {
    const box = $("vc-ptt");
    if (!box) return;
    const current = callTrack();
    box.hidden = !(current && switchedOn(PUSH_TO_TALK_KEY));
    if (box.hidden) return;
    const muted = current.call.muted;
    const text = muted ? "Muted: unmute to talk" : talking ? "Talking" : "Hold space to talk";
    if ($("vc-ptt-status").textContent !== text) $("vc-ptt-status").textContent = text;
    $("vc-ptt-talk").setAttribute("aria-pressed", String(talking && !muted));
  }

  // typing a space into a text box is typing; the Audio settings dialog's own controls take the keyboard too
  function typing(target) {
    if (!target || !target.closest) return false;
    if (target.isContentEditable || target.closest("#vc-audio-settings")) return true;
    if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    const notText = ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"];
    return target.tagName === "INPUT" && !notText.includes(target.type);
  }

  function pushToTalkKey(event) {
    if (event.code !== "Space") return;
    if (event.type === "keyup") {
      if (!holding.has("key")) return; // a space typed into a text box, or push to talk is off
      swallow(event);
      return setHolding("key", false);
    }
    if (!switchedOn(PUSH_TO_TALK_KEY) || !callTrack() || typing(event.target)) return;
    swallow(event);
    setHolding("key", true);
  }

  // space would otherwise click the focused button (Hang up, say), flip a focused switch or scroll the page:
  // preventDefault stops the browser's own action, stopPropagation Quasar's (its toggles flip on a space's keyup
  // whatever the default, so a held space on a focused Do not disturb switch flipped it now and then)
  function swallow(event) {
    event.preventDefault();
    event.stopPropagation();
  }

  function talkButton(event) {
    if (event.target.id !== "vc-ptt-talk") return;
    if (event.type === "pointerdown") {
      event.target.setPointerCapture?.(event.pointerId); // a finger sliding off the button still holds it
      setHolding("pointer", true);
    } else setHolding("pointer", false);
  }

  document.addEventListener("keydown", pushToTalkKey, true);
  document.addEventListener("keyup", pushToTalkKey, true);
  for (const type of ["pointerdown", "pointerup", "pointercancel", "lostpointercapture"])
    document.addEventListener(type, talkButton);
  document.addEventListener("contextmenu", (event) => event.target.id === "vc-ptt-talk" && event.preventDefault());
  // a key or finger let go in another window never arrives: leaving the window lets go of the talk
  window.addEventListener("blur", () => holding.size && pushToTalkChanged());
  document.addEventListener("visibilitychange", () => document.hidden && holding.size && pushToTalkChanged());

  // ---- in a call: who is speaking (from the audio itself) and how good the media path is (getStats)

  const SPEAKING_LEVEL = 0.01; // RMS, -40 dBFS: a voice (after noise suppression), not the hiss of a quiet room
  const SPEAKING_HOLD_MS = 400; // between words the indicator stays on
  const levels = { local: null, remote: null };
  const lastHeard = { local: 0, remote: 0 };
  let speakingTimer = null, qualityTimer = null, lastStats = null;

  function startWatching() {
    if (!speakingTimer) speakingTimer = setInterval(showSpeaking, 150);
    if (!qualityTimer) qualityTimer = setInterval(() => showQuality().catch(() => {}), 2000);
  }

  function stopWatching() {
    clearInterval(speakingTimer);
    clearInterval(qualityTimer);
    speakingTimer = qualityTimer = lastStats = null;
    for (const side of ["local", "remote"]) {
      levels[side]?.stop();
      levels[side] = null;
    }
    document.body.dataset.vcSpeaking = "";
  }

  function showSpeaking() {
    const now = performance.now();
    const speaking = [];
    for (const side of ["local", "remote"]) {
      if (levels[side] && levels[side].level() > SPEAKING_LEVEL) lastHeard[side] = now;
      if (levels[side] && now - lastHeard[side] < SPEAKING_HOLD_MS) speaking.push(side);
    }
    const value = speaking.join(" ");
    if (document.body.dataset.vcSpeaking !== value) document.body.dataset.vcSpeaking = value;
    showPeopleSpeaking(now);
  }

  // a group call's `<name> is speaking`, one per person (pages/call.py): from the level of what their link (or the
  // caller-callee leg) brings
  const lastHeardOf = new Map(); // name → when their voice was last heard
  function showPeopleSpeaking(now) {
    const heard = new Set();
    for (const call of calls.values()) {
      const sources = [...call.links.values()].map((link) => [link.peer, link.level]);
      if (call.legs.has(call.answeredLeg)) sources.push([call.peer, levels.remote]);
      for (const [peer, level] of sources) {
        if (level && level.level() > SPEAKING_LEVEL) lastHeardOf.set(peer, now);
        if (now - (lastHeardOf.get(peer) || -Infinity) < SPEAKING_HOLD_MS) heard.add(peer);
      }
    }
    for (const indicator of document.querySelectorAll("[data-vc-speaking-of]")) {
      const on = heard.has(indicator.dataset.vcSpeakingOf);
      if (on !== indicator.hasAttribute("data-on")) indicator.toggleAttribute("data-on", on);
    }
  }

  const POOR = { rtt: 0.3, loss: 0.05, jitter: 0.03 }; // s, fraction, s: beyond any of these a voice call suffers

  async function showQuality() {
    const current = callTrack();
    const label = $("vc-quality");
    if (!current || !label) return;
    const stats = await current.leg.pc.getStats();
    let rtt = null, jitter = null, lost = 0, received = 0;
    stats.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated && s.currentRoundTripTime !== undefined)
        rtt = s.currentRoundTripTime;
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        jitter = s.jitter ?? null;
        lost = s.packetsLost || 0;
        received = s.packetsReceived || 0;
      }
    });
    const before = lastStats || { lost: 0, received: 0 };
    lastStats = { lost, received };
    const newLost = lost - before.lost, newReceived = received - before.received;
    const loss = newLost + newReceived > 0 ? Math.max(0, newLost) / (newLost + newReceived) : 0;
    const poor = (rtt !== null && rtt > POOR.rtt) || loss > POOR.loss || (jitter !== null && jitter > POOR.jitter);
    label.textContent = poor ? "Poor connection" : "Good connection";
    label.dataset.quality = poor ? "poor" : "good";
    const ms = (x) => (x === null ? "?" : `${Math.round(x * 1000)} ms`);
    label.title = `round trip ${ms(rtt)}, loss ${(loss * 100).toFixed(1)} %, jitter ${ms(jitter)}`;
  }

  // ---- a call ringing this tab: the title names the caller; a hidden tab also gets a system notification

  const ring = { callId: null, title: null, notification: null };

  function ringStarted(callId, peer) {
    if (ring.callId === callId) return;
    ringEnded(ring.callId);
    ring.callId = callId;
    ring.title = document.title;
    document.title = `${peer} is calling… · ${ring.title}`; // words, no emoji: not every system has a font for it
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      ring.notification = new Notification("Incoming call", { body: `${peer} is calling you`, tag: callId });
      ring.notification.onclick = () => {
        window.focus();
        ring.notification?.close();
      };
    }
  }

  function ringEnded(callId) {
    if (!callId || ring.callId !== callId) return;
    document.title = ring.title;
    ring.notification?.close();
    ring.callId = ring.title = ring.notification = null;
  }

  // Permission is asked when the person signs in (a click of theirs, so the browser shows the prompt), never on load
  function askNotifications(event) {
    const button = event.target.closest && event.target.closest("button");
    if (!button || !window.Notification || Notification.permission !== "default") return;
    if (/^(Sign in|Create account)$/.test(button.textContent.trim())) Notification.requestPermission().catch(() => {});
  }

  // ---- the header's Menu on a narrow screen (a phone): the account's controls drop down below the header (CSS in
  // the root's HEAD). A click on an item or outside closes it, so does Escape; the Do not disturb switch keeps it open.

  const menuButton = () => document.querySelector("[data-vc-menu-button]");
  const menuOpen = () => document.body.dataset.vcMenu === "open";

  function setMenu(open) {
    document.body.dataset.vcMenu = open ? "open" : "";
    menuButton()?.setAttribute("aria-expanded", String(open));
  }

  function menuClicked(event) {
    const target = event.target.closest ? event.target : null;
    if (target?.closest("[data-vc-menu-button]")) return setMenu(!menuOpen());
    if (menuOpen() && (!target?.closest(".vc-account") || target.closest("button"))) setMenu(false);
  }

  function menuKey(event) {
    if (event.key !== "Escape" || !menuOpen()) return;
    setMenu(false);
    menuButton()?.focus();
  }

  // ---- keyboard shortcuts: the table is pages/shortcuts.py's, in the `Keyboard shortcuts` dialog's data. Each acts
  // through the control a mouse would press (Mute, Decline), so the server's view of the call stays the truth.

  const TYPING = "input, textarea, select, [contenteditable]:not([contenteditable='false'])";
  const shortcutActions = {
    shortcuts: () => openShortcuts(),
    mute: () => pressShown("[data-vc-mute]"),
    decline: () => pressShown("[data-vc-decline]"),
  };
  let focusBeforeShortcuts = null;

  function pressShown(selector) {
    const control = [...document.querySelectorAll(selector)].find((c) => c.getClientRects().length > 0);
    if (!control) return false;
    control.click();
    return true;
  }

  const shortcuts = () => JSON.parse($("vc-shortcuts")?.dataset.vcShortcuts || "[]");

  function openShortcuts() {
    const dialog = $("vc-shortcuts");
    if (!dialog || dialog.open) return false;
    dialog.querySelector("tbody").replaceChildren(
      ...shortcuts().map(({ keys, what }) => {
        const row = document.createElement("tr");
        const key = document.createElement("th");
        key.scope = "row";
        key.append(Object.assign(document.createElement("kbd"), { textContent: keys }));
        row.append(key, Object.assign(document.createElement("td"), { textContent: what }));
        return row;
      }),
    );
    focusBeforeShortcuts = document.activeElement;
    dialog.showModal();
    return true;
  }

  function shortcutFor(event) {
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    return shortcuts().find((shortcut) => shortcut.key === key)?.action || null;
  }

  function shortcutKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    if (event.target.closest && event.target.closest(TYPING)) return; // a letter typed, not a command
    if (document.querySelector("dialog[open]")) return; // a native dialog has the keyboard (Escape closes it)
    const action = shortcutFor(event);
    if (action && shortcutActions[action]()) event.preventDefault();
  }

  document.addEventListener("keydown", shortcutKey);
  document.addEventListener("click", (event) => event.target.id === "vc-shortcuts-close" && $("vc-shortcuts").close());
  document.addEventListener(
    "close",
    (event) => {
      if (event.target.id !== "vc-shortcuts") return;
      event.target.querySelector("tbody").replaceChildren(); // its words leave the page with it
      focusBeforeShortcuts?.focus?.(); // back where the person was
      focusBeforeShortcuts = null;
    },
    true,
  );
  document.addEventListener("click", menuClicked);
  document.addEventListener("keydown", menuKey);
  document.addEventListener("click", askNotifications, { capture: true });
  document.addEventListener(
    "click",
    (event) => event.target.closest && event.target.closest("[data-vc-audio-settings]") && openAudioSettings(),
    { capture: true },
  );
  document.addEventListener("change", audioSettingsChanged);
  document.addEventListener("close", (event) => event.target.id === "vc-audio-settings" && stopMeter(), true);
  document.addEventListener("click", (event) => event.target.id === "vc-audio-close" && $("vc-audio-settings").close());
  navigator.mediaDevices?.addEventListener("devicechange", () => devicesChanged().catch(() => {}));
  if (chosen(SPEAKER_KEY)) document.addEventListener("DOMContentLoaded", () => applySpeaker(chosen(SPEAKER_KEY)));

  window.vc = { sync, signal, setMuted, signedOut, signedIn, serviceInterrupted, setBadge, calls, trace, renewIce };
  window.vc.microphoneSettings = () => liveMicTrack()?.getSettings() ?? null; // what tests and benchmarks read
  watchSocket();
})();
