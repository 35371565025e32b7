// Sound and vibration for scanner pages (the scan page and the bill page): a short high tone and a
// short buzz for success, two low tones and a long buzz for a refusal. The AudioContext is made on the
// first key or tap (browsers refuse sound before): call unlockAudio() from those handlers.


let audio = null;

export function unlockAudio() {
  try {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) audio = new Context();
    if (audio && audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

function tone(frequency, startAfter, duration) {
  if (!audio) return;
  try {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = frequency;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(audio.destination);
    const start = audio.currentTime + startAfter;
    osc.start(start);
    osc.stop(start + duration);
  } catch {
    // No sound is no reason to lose the scan.
  }
}

function vibrate(pattern) {
  if (typeof navigator.vibrate === "function") {
    try {
      navigator.vibrate(pattern);
    } catch {
      // Some browsers refuse vibration without a tap; colour and sound still tell.
    }
  }
}

export function signalSuccess() {
  tone(1760, 0, 0.12);
  vibrate(60);
}

export function signalRefusal() {
  tone(220, 0, 0.18);
  tone(220, 0.25, 0.18);
  vibrate([200, 100, 200]);
}
