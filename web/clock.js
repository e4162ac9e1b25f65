// A clock for the camera loop while the studio's tab is hidden: dedicated workers' timers
// are not slowed down in background tabs the way the page's own are (web/boot.js).
let timer = null;
self.onmessage = (e) => {
  clearInterval(timer);
  timer = e.data > 0 ? setInterval(() => self.postMessage(0), e.data) : null;
};
