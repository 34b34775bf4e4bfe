// Sign in with the member key: ask the wallet (window.ethereum) for the account, fetch an
// EIP-4361 challenge for it, personal_sign it, and post message and signature.
(function () {
  const form = document.getElementById("key-sign-in");
  if (!form) return;
  const status = document.getElementById("key-sign-in-status");
  form.addEventListener("submit", async (event) => {
    if (form.elements.signature.value) return;
    event.preventDefault();
    if (!window.ethereum) { status.textContent = status.dataset.noWallet; return; }
    try {
      const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
      const body = new URLSearchParams({ address, csrf_token: form.elements.csrf_token.value });
      const answer = await fetch(form.dataset.challengeUrl, { method: "POST", body });
      const challenge = await answer.json();
      if (!answer.ok) { status.textContent = challenge.error; return; }
      const signature = await window.ethereum.request({
        method: "personal_sign", params: [challenge.message, address],
      });
      form.elements.message.value = challenge.message;
      form.elements.signature.value = signature;
      form.submit();
    } catch (error) {
      status.textContent = String(error.message || error);
    }
  });
})();
